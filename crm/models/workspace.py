"""Review cases, visits, targets (to be built)."""
