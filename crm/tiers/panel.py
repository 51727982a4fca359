"""The tier panel of the customer page: tier, reasons in words, scores, history, overrides."""

from __future__ import annotations

import json

from flask_babel import gettext as _

from crm.models import CustomerTier
from crm.tiers.explain import explain_customer, history
from crm.tiers.overrides import OVERRIDE_ROLES, awaiting_confirmation, open_overrides

TIER_LEVEL = {"watchlist": 0, "standard": 1, "vip": 2}


def customer_panel(session, user, customer) -> dict | None:
    state = session.get(CustomerTier, customer.id)
    overrides = open_overrides(session, customer.id)
    rows = history(session, customer.id)
    chart = {
        # One label per state: two runs as of the same day are two points (each with its run).
        "labels": [
            _("Run %(id)s · %(date)s", id=h.run_id, date=h.as_of) if h.run_id else str(h.as_of or h.changed_at.date())
            for h in rows
        ],
        "levels": [TIER_LEVEL[h.tier] for h in rows],
        "value": [float(h.value_score) for h in rows],
        "risk": [float(h.risk_score) for h in rows],
    }
    return {
        "template": "tiers/_customer_panel.html",
        "state": state,
        "explanation": explain_customer(session, customer.id) if state else None,
        "tier_history": rows,
        "tier_chart": json.dumps(chart),
        "overrides": overrides,
        "awaiting": {o.id for o in overrides if awaiting_confirmation(o, state)},
        "can_override": user.role in OVERRIDE_ROLES,
    }
