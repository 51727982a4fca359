"""What every benefits module shares: the domain error, the business day and who may see what."""

from __future__ import annotations

# Health data is sensitive: besides the customer's own account manager, only these roles
# see a booking's hospital and package; everyone else sees a masked "health booking".
HEALTH_ROLES = ("admin",)
# Roles that may book services and issue coupons (a manager only for their own customers).
SERVICE_ROLES = ("admin", "account_manager")
ASSISTANCE_ROLES = ("admin", "account_manager", "risk_officer")
REPORT_ROLES = ("admin", "account_manager", "risk_officer")


class BenefitError(Exception):
    """A benefit operation was refused; the message says why."""


def sees_health_details(user, customer) -> bool:
    """The customer's own account manager and HEALTH_ROLES see health details."""
    if user.role == "account_manager":
        return customer.account_manager_id == user.id
    return user.role in HEALTH_ROLES


def may_serve(user, customer) -> bool:
    """May ``user`` book services and issue coupons for ``customer``?"""
    if user.role == "account_manager":
        return customer.account_manager_id == user.id
    return user.role in SERVICE_ROLES
