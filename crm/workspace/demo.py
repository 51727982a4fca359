"""workspace: demo data (to be built)."""


def seed(database, actor, today) -> None:
    """Add this feature's demo data in its own transaction."""
