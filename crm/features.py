"""The app's features, listed once: the app factory registers what each module offers.

A feature's views module exposes ``bp`` (a Blueprint) and may expose ``NAV`` (menu items);
a subscriptions module exposes ``register()`` (domain-event handlers); a panel module
exposes ``customer_panel(session, user, customer)`` returning a dict with ``template`` (or
None) for the customer page.
"""
from __future__ import annotations

import importlib

VIEWS = (
    "crm.auth.views",
    "crm.customers.views",
    "crm.tiers.views",
    "crm.workspace.views",
    "crm.benefits.views",
    "partners.api",
    "partners.portal",
    "crm.admin.views",
)
SUBSCRIPTIONS = ("crm.benefits.subscriptions", "crm.workspace.subscriptions")
CUSTOMER_PANELS = ("crm.tiers.panel", "crm.benefits.panel", "crm.workspace.panel")


def modules(names: tuple[str, ...]):
    return [importlib.import_module(name) for name in names]


def nav_items() -> list:
    return [item for module in modules(VIEWS) for item in getattr(module, "NAV", ())]


def customer_panels(session, user, customer) -> list[dict]:
    panels = (module.customer_panel(session, user, customer) for module in modules(CUSTOMER_PANELS))
    return [panel for panel in panels if panel]


def register_subscriptions() -> None:
    for module in modules(SUBSCRIPTIONS):
        module.register()
