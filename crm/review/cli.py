"""review: commands added to `crm` (to be built)."""

COMMANDS: list = []
