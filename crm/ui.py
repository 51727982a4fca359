"""Template helpers: navigation by role, labels in the user's language, masking filters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2 import BytecodeCache

from crm import labels
from crm.listing import names_by_email, person_name
from crm.validators import mask_id_number, mask_phone
from segmentation.scores import SCORE_DECIMALS

# The older name of the label groups (crm.labels holds them); templates use the `label` filter.
LABELS = labels.GROUPS


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


def user_name(label) -> str:
    """A stored actor (an audit actor's label, a run's starter: a user's e-mail address) as
    the person's name; a label that is no user's (a job, the command line) stays as it is.
    Each address is looked up once per request."""
    from flask import g

    from crm.db import get_session

    if not label or "@" not in str(label):
        return label or ""
    names = g.setdefault("user_names", {})
    if label not in names:
        names.update(names_by_email(get_session(), [label]))
        names.setdefault(label, label)
    return names[label]


class CompiledTemplates(BytecodeCache):
    """Templates compiled once per process, not once per app: each app has its own Jinja
    environment, and the tests make an app per test (a page's templates took longer to compile
    than the test took to run). Jinja keys a template by its name and checks its source's
    checksum, so an edited template is compiled again."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def init_app(app) -> None:
    labels.register(app)
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
        person=user_name,
        localtime=lambda value: format_datetime(value, "yyyy-MM-dd HH:mm") if value else "",
    )
