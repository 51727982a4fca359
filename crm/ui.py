"""Template helpers: navigation by role, labels in the user's language, masking filters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import format_datetime
from flask_login import current_user

from crm import labels
from crm.validators import mask_id_number, mask_phone
from segmentation.scores import SCORE_DECIMALS

# The older name of the label groups (crm.labels holds them); templates use the `label` filter.
LABELS = labels.GROUPS


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    roles: tuple[str, ...]


def nav_items() -> list[NavItem]:
    """The menu: each feature's NAV items that the user's role may open, in feature order."""
    from crm import features

    if not current_user.is_authenticated:
        return []
    return [item for item in features.nav_items() if current_user.role in item.roles]


def _label(group: str):
    return lambda code: labels.label(code, group)


def money(value) -> str:
    """An amount in CNY as both our languages write it: ¥86,000.00."""
    if value is None:
        return "—"
    return f"¥{Decimal(value):,.2f}"


def score(value) -> str:
    """A 0-100 score as published: whole points (segmentation.scores.SCORE_DECIMALS)."""
    if value is None:
        return "—"
    return f"{float(value):.{SCORE_DECIMALS}f}"


def init_app(app) -> None:
    labels.register(app)
    app.jinja_env.globals.update(
        nav_items=nav_items,
        role_label=_label("role"),
        tier_label=_label("tier"),
        source_label=_label("source"),
        product_label=_label("product"),
        payment_label=_label("payment"),
        status_label=_label("status"),
        reason_label=_label("reason"),
        feature_label=_label("feature"),
    )
    app.jinja_env.filters.update(
        mask_phone=mask_phone,
        mask_id=mask_id_number,
        money=money,
        score=score,
        localtime=lambda value: format_datetime(value, "yyyy-MM-dd HH:mm") if value else "",
    )
