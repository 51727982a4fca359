"""review: open review cases for what an import brought in, in the import's transaction, and
sweep a customer's business into the queues their new tier calls for when they move."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm import events
from crm.models import ImportBatch
from crm.review.routing import Origin, route_claims, route_policies
from crm.review.sweep import follow_tier_moves


def on_records_imported(session: Session, event: events.RecordsImported) -> None:
    """Route imported policies and claims; the batch's uploader counts as the one who entered them."""
    if event.kind not in ("policies", "claims") or not (event.created_ids or event.updated_ids):
        return
    batch = session.get(ImportBatch, event.batch_id)
    origin = Origin(
        actor=event.actor,
        initial_load=event.initial_load,
        entered_by_id=batch.user_id if batch else None,
        import_batch_id=event.batch_id,
    )
    if event.kind == "policies":
        route_policies(session, event.created_ids, event.updated_ids, origin)
    else:
        route_claims(session, event.created_ids + event.updated_ids, origin)


def on_tiers_changed(session: Session, event: events.TiersChanged) -> None:
    """Watchlist entrants' open business to review, VIPs' cases fast-tracked (crm.review.sweep)."""
    follow_tier_moves(session, event.moves, event.actor)


# Subscribed when the feature is imported (crm.review imports this module).
events.subscribe(events.RecordsImported, on_records_imported)
events.subscribe(events.TiersChanged, on_tiers_changed)
