"""workspace: periodic jobs for the scheduler (to be built)."""

JOBS: list = []
