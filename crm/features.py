"""The app's features, listed once: the app factory, the command line, the scheduler and the
demo seed take what each module offers.

A feature's views module exposes ``bp`` (a Blueprint) and may expose ``NAV`` (menu items);
a subscriptions module exposes ``register()`` (domain-event handlers); a panel module
exposes ``customer_panel(session, user, customer)`` returning a dict with ``template`` (or
None) for the customer page; a cli module ``COMMANDS``; a jobs module ``JOBS``; a demo
module ``seed(database, actor, today)``.
"""
from __future__ import annotations

import importlib

VIEWS = (
    "crm.auth.views",
    "crm.workspace.views",
    "crm.customers.views",
    "crm.review.views",
    "crm.tiers.views",
    "crm.benefits.views",
    "partners.api",
    "partners.portal",
    "crm.admin.views",
    "crm.auth.views_users",
)
SUBSCRIPTIONS = ("crm.benefits.subscriptions", "crm.review.subscriptions", "crm.workspace.subscriptions")
CUSTOMER_PANELS = ("crm.tiers.panel", "crm.review.panel", "crm.benefits.panel", "partners.panel",
                   "crm.workspace.panel")
# Modules with COMMANDS (click commands/groups added to `crm`), JOBS (periodic jobs for the
# scheduler: dicts of id, func(database, settings), trigger) and seed(database, actor, today).
CLI = ("partners.cli", "crm.benefits.cli", "crm.review.cli", "crm.workspace.cli")
JOBS = ("partners.jobs", "crm.benefits.jobs", "crm.review.jobs", "crm.workspace.jobs")
SEEDS = ("partners.demo", "crm.benefits.demo", "crm.review.demo", "crm.workspace.demo")


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
