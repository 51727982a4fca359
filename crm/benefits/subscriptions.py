"""Benefits follow the tiers: ``TiersChanged`` grants, resumes, stops or suspends entitlements.

Runs inside the recalculation's transaction (never commits). Moves are grouped by
(old tier, new tier) so that thousands of moves cost a handful of bulk statements, not
queries per customer.
"""
from __future__ import annotations


from sqlalchemy.orm import Session

from crm import events
from crm.benefits import ledger
from crm.benefits.catalogue import current_catalogue
from crm.benefits.services import business_today
from crm.models import TierRun


def on_tiers_changed(session: Session, event: events.TiersChanged) -> None:
    """Customers leaving a tier lose its benefits first, then those entering one get them."""
    run = session.get(TierRun, event.run_id) if event.run_id else None
    as_of = run.as_of if run is not None else business_today()
    catalogue = current_catalogue(session)
    groups = events.moves_by_pair(event.moves)
    for (old, new), ids in sorted(groups.items(), key=lambda g: (g[0][0] or "", g[0][1])):
        if old is not None:
            ledger.leave_tier(session, event.actor, ids, old, new, as_of, catalogue)
    for (old, new), ids in sorted(groups.items(), key=lambda g: (g[0][0] or "", g[0][1])):
        ledger.enter_tier(session, event.actor, ids, new, as_of, catalogue)


def register() -> None:
    """Subscribe this feature's handlers (crm.events.subscribe)."""
    events.subscribe(events.TiersChanged, on_tiers_changed)
