"""review: the panel on the customer page (to be built)."""


def customer_panel(session, user, customer) -> dict | None:
    """A dict with 'template' and its context, or None to show nothing."""
    return None
