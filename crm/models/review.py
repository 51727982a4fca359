"""Review cases and their queues (to be built)."""
