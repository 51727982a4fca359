"""Template helpers: navigation by role, labels in the user's language, masking filters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.listing import person_name
from crm.validators import mask_id_number, mask_phone
from segmentation.scores import SCORE_DECIMALS

LABELS = {
    "role": {
        "admin": _l("Administrator"),
        "account_manager": _l("Account manager"),
        "underwriter": _l("Underwriter"),
        "claims_reviewer": _l("Claims reviewer"),
        "risk_officer": _l("Risk officer"),
        "partner_cashier": _l("Partner cashier"),
    },
    "tier": {"vip": _l("VIP"), "standard": _l("Standard"), "watchlist": _l("Watchlist")},
    "source": {
        "referral": _l("Referral"),
        "cold_visit": _l("Cold visit"),
        "community_event": _l("Community event"),
        "agent": _l("Agent"),
        "online": _l("Online"),
        "other": _l("Other"),
    },
    "product": {
        "life": _l("Life"),
        "health": _l("Health"),
        "critical_illness": _l("Critical illness"),
        "accident": _l("Accident"),
        "property": _l("Property"),
        "motor": _l("Motor"),
        "travel": _l("Travel"),
    },
    "payment": {
        "single": _l("Single premium"),
        "annual": _l("Annual"),
        "semiannual": _l("Semi-annual"),
        "quarterly": _l("Quarterly"),
        "monthly": _l("Monthly"),
    },
    "reason": {
        "W_FRAUD": _l("Suspected fraud on a recent claim"),
        "W_LOSS": _l("Large loss maker"),
        "W_FREQ": _l("Frequent claims"),
        "W_RETAINED": _l("Kept on the watchlist"),
        "V_PREMIUM": _l("High annual premium"),
        "V_LONGTERM": _l("Long-term regular-premium customer"),
        "V_RETAINED": _l("Kept as VIP"),
        "M_OVERRIDE": _l("Tier set by hand"),
    },
    "feature": {
        "annual_premium": _l("Annual premium in force"),
        "tenure_years": _l("Tenure (years)"),
        "long_term_regular": _l("Long-term regular-premium policies"),
        "n_products": _l("Products"),
        "earned_premium": _l("Earned premium (3 years, 1/365)"),
        "exposure_years": _l("Exposure (years)"),
        "incurred": _l("Incurred claims (3 years)"),
        "claims_3y": _l("Claims (3 years)"),
        "claims_12m": _l("Claims (12 months)"),
        "claims_recent_180d": _l("Claims reported (180 days)"),
        "fraud_flag": _l("Fraud suspected"),
        "loss_ratio": _l("Loss ratio"),
        "credible_loss_ratio": _l("Credibility-weighted loss ratio"),
    },
    "status": {
        "in_force": _l("In force"),
        "lapsed": _l("Lapsed"),
        "cancelled": _l("Cancelled"),
        "matured": _l("Matured"),
        "reported": _l("Reported"),
        "registered": _l("Registered"),
        "under_review": _l("Under review"),
        "approved": _l("Approved"),
        "paid": _l("Paid"),
        "rejected": _l("Rejected"),
        "withdrawn": _l("Withdrawn"),
    },
}


# The menus of the navigation bar, in their order: every page a role may open sits in one.
NAV_GROUPS = (
    ("customers", _l("Customers")),
    ("queues", _l("Work queues")),
    ("tiers", _l("Tiers")),
    ("vip", _l("VIP services")),
    ("partners", _l("Partners")),
    ("reports", _l("Reports")),
    ("admin", _l("Administration")),
)
# The menu of an item that names none: its blueprint's.
BLUEPRINT_GROUPS = {
    "customers": "customers",
    "workspace": "customers",
    "review": "queues",
    "tiers": "tiers",
    "benefits": "vip",
    "portal": "partners",
    "admin": "admin",
    "users": "admin",
}


@dataclass(frozen=True)
class NavItem:
    """A menu link. Who sees it is decided by its view's own role check (``roles_required``),
    so the menu cannot offer a page the role would be refused; ``roles`` may only narrow that
    (the same page as "My customers" for managers and "Portfolios" for admins)."""

    endpoint: str
    label: object
    roles: tuple[str, ...] | None = None
    group: str | None = None

    @property
    def menu(self) -> str:
        return self.group or BLUEPRINT_GROUPS.get(self.endpoint.partition(".")[0], "admin")


@dataclass(frozen=True)
class NavGroup:
    code: str
    label: object
    items: tuple[NavItem, ...]


def view_roles(view_functions: dict, endpoint: str) -> tuple[str, ...]:
    """The roles the view of ``endpoint`` lets in (none for a view without a role check)."""
    return tuple(getattr(view_functions.get(endpoint), "required_roles", ()))


def menu_for(role: str, items, view_functions: dict) -> list[NavGroup]:
    """The menus ``role`` sees: each item whose view admits the role, grouped, empty menus left out."""
    allowed = [
        item
        for item in items
        if role in view_roles(view_functions, item.endpoint) and (item.roles is None or role in item.roles)
    ]
    groups = [NavGroup(code, label, tuple(i for i in allowed if i.menu == code)) for code, label in NAV_GROUPS]
    return [g for g in groups if g.items]


def nav_menus() -> list[NavGroup]:
    """The current user's menus (nothing before log-in)."""
    from crm import features

    if not current_user.is_authenticated:
        return []
    return menu_for(current_user.role, features.nav_items(), current_app.view_functions)


def nav_items() -> list[NavItem]:
    """Every menu link of the current user, in menu order."""
    return [item for group in nav_menus() for item in group.items]


def _label(group: str):
    return lambda code: LABELS[group].get(code, code)


def money(value) -> str:
    if value is None:
        return "—"
    return f"¥{Decimal(value):,.2f}"


def score(value) -> str:
    """A 0-100 score as published: whole points (segmentation.scores.SCORE_DECIMALS)."""
    if value is None:
        return "—"
    return f"{float(value):.{SCORE_DECIMALS}f}"


def init_app(app) -> None:
    app.jinja_env.globals.update(
        nav_items=nav_items,
        nav_menus=nav_menus,
        role_label=_label("role"),
        tier_label=_label("tier"),
        source_label=_label("source"),
        product_label=_label("product"),
        payment_label=_label("payment"),
        status_label=_label("status"),
        reason_label=_label("reason"),
        feature_label=_label("feature"),
        person_name=person_name,
    )
    app.jinja_env.filters.update(
        mask_phone=mask_phone,
        mask_id=mask_id_number,
        money=money,
        score=score,
        localtime=lambda value: format_datetime(value, "yyyy-MM-dd HH:mm") if value else "",
    )
