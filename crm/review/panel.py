"""review: the customer's review cases on the customer page."""

from __future__ import annotations

from crm.review.queries import customer_cases
from crm.review.sla import current_settings


def customer_panel(session, user, customer) -> dict | None:
    """The customer's newest review cases (the page already checked that the user may see them)."""
    cases = customer_cases(session, customer.id)
    if not cases:
        return None
    return {"template": "review/_customer_panel.html", "cases": cases, "today": current_settings(session).today()}
