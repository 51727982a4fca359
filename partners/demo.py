"""partners: demo data (to be built)."""


def seed(database, actor, today) -> None:
    """Add demo partners in their own transaction."""
