"""partners: the customer's coupons on the customer page (for roles that may see the customer)."""

from __future__ import annotations

from crm.auth.login import STAFF
from crm.clock import business_today
from partners import queries


def customer_panel(session, user, customer) -> dict | None:
    """The coupons card; the customer page has already checked that ``user`` may see them."""
    if user.role not in STAFF:
        return None
    return {
        "template": "partners/_customer_panel.html",
        "coupons": queries.customer_coupons(session, customer.id),
        "coupon_today": business_today(),
    }
