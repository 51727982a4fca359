"""Benefits follow the tiers: ``TiersChanged`` grants, resumes, stops or suspends entitlements.

Runs inside the publisher's transaction (never commits): an override's, or, for a
recalculation, the transaction that delivers a batch of its moves after the run committed
(crm.jobs.moves). A batch may be delivered after a later move of the same customer (an
override in between, or a later run while the batch was held up): so each move is acted on
only if the customer is still where it left them, in its new tier for a grant and out of
its old one for a stop. Moves are grouped by (old tier, new tier) so that thousands of moves
cost a handful of bulk statements, not queries per customer.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from crm import events
from crm.benefits import ledger
from crm.benefits.catalogue import current_catalogue
from crm.bulk import IDS_PER_STATEMENT, id_in, ids_param
from crm.clock import business_today
from crm.models import TierRun


def _where_now(session: Session, ids: list[int], tier: str, inside: bool) -> list[int]:
    """Those of ``ids`` whose current tier is ``tier`` (``inside``), or is not."""
    dialect = session.get_bind().dialect.name
    stmt = text(
        f"SELECT customer_id FROM customer_tiers WHERE {id_in(dialect, 'customer_id')} "  # nosec B608
        f"AND tier {'=' if inside else '<>'} :tier ORDER BY customer_id"
    )
    return [
        cid
        for start in range(0, len(ids), IDS_PER_STATEMENT)
        for cid in session.scalars(
            stmt, {"ids": ids_param(dialect, ids[start : start + IDS_PER_STATEMENT]), "tier": tier}
        )
    ]


def on_tiers_changed(session: Session, event: events.TiersChanged) -> None:
    """Customers leaving a tier lose its benefits first, then those entering one get them."""
    run = session.get(TierRun, event.run_id) if event.run_id else None
    as_of = run.as_of if run is not None else business_today()
    catalogue = current_catalogue(session)
    groups = sorted(events.moves_by_pair(event.moves).items(), key=lambda g: (g[0][0] or "", g[0][1]))
    for (old, new), ids in groups:
        if old is not None and catalogue.for_tier(old):
            ledger.leave_tier(
                session, event.actor, _where_now(session, ids, old, inside=False), old, new, as_of, catalogue
            )
    for (_old, new), ids in groups:
        if catalogue.for_tier(new):
            ledger.enter_tier(session, event.actor, _where_now(session, ids, new, inside=True), new, as_of, catalogue)


# Subscribed when the feature is imported (crm.benefits imports this module): every process
# that has the feature has its handlers, whoever made it (the app, the command line, a job).
events.subscribe(events.TiersChanged, on_tiers_changed)
