"""workspace: reactions to domain events (to be built)."""


def register() -> None:
    """Subscribe this feature's handlers (crm.events.subscribe): none yet."""
