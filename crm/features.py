"""The app's features, listed once: the app factory, the command line, the scheduler and the
demo seed take what each module offers. This is crm's composition root, the one module of crm
that names partners' modules (tests/test_structure.py holds the rest of crm to that).

A feature package defines its blueprint ``bp`` in its ``__init__.py`` (partners, with its API,
lists two in ``BLUEPRINTS``); its views modules (``views.py``, ``views_*.py``) add routes to it
and may expose ``NAV`` (menu items). A ``subscriptions`` module subscribes its domain-event
handlers when imported, and its package's ``__init__.py`` imports it: a process that imports
a feature (the app, the command line, the scheduler) has its handlers, one that never did
has none (and crm.jobs.moves refuses to deliver there). A panel module exposes
``customer_panel(session, user, customer)`` returning a dict with ``template`` (or None) for
the customer page; a cli module ``COMMANDS``; a jobs module ``JOBS``; a demo module
``seed(database, actor, today)``.
"""

from __future__ import annotations

import importlib

FEATURES = (
    "crm.auth",
    "crm.workspace",
    "crm.customers",
    "crm.review",
    "crm.tiers",
    "crm.benefits",
    "partners",
    "crm.admin",
)
# Every module that adds routes to a feature's blueprint, imported before the blueprint is registered.
VIEWS = (
    "crm.auth.views",
    "crm.workspace.views_today",
    "crm.workspace.views",
    "crm.workspace.views_visits",
    "crm.workspace.views_reports",
    "crm.customers.views",
    "crm.customers.views_blacklist",
    "crm.review.views",
    "crm.review.views_entry",
    "crm.review.views_settings",
    "crm.tiers.views",
    "crm.benefits.views",
    "crm.benefits.views_services",
    "crm.benefits.views_assistance",
    "crm.benefits.views_reports",
    "partners.api",
    "partners.views_portal",
    "partners.views_admin",
    "partners.views_coupons",
    "crm.admin.views",
    "crm.auth.views_users",
)
CUSTOMER_PANELS = (
    "crm.workspace.panel_timeline",
    "crm.tiers.panel",
    "crm.review.panel",
    "crm.benefits.panel",
    "partners.panel",
    "crm.workspace.panel",
)
# Modules with COMMANDS (click commands/groups added to `crm`), JOBS (periodic jobs for the
# scheduler: dicts of id, func(database, settings), trigger) and seed(database, actor, today).
CLI = ("partners.cli", "crm.benefits.cli", "crm.review.cli", "crm.workspace.cli")
JOBS = ("crm.audit_jobs", "partners.jobs", "crm.benefits.jobs", "crm.review.jobs", "crm.workspace.jobs")
SEEDS = ("partners.demo", "crm.benefits.demo", "crm.review.demo", "crm.workspace.demo")


def modules(names: tuple[str, ...]):
    return [importlib.import_module(name) for name in names]


def blueprints() -> list:
    """Every feature's blueprints, their routes added (the views modules imported)."""
    modules(VIEWS)
    return [bp for package in modules(FEATURES) for bp in getattr(package, "BLUEPRINTS", (package.bp,))]


def nav_items() -> list:
    return [item for module in modules(VIEWS) for item in getattr(module, "NAV", ())]


def customer_panels(session, user, customer) -> list[dict]:
    panels = (module.customer_panel(session, user, customer) for module in modules(CUSTOMER_PANELS))
    return [panel for panel in panels if panel]
