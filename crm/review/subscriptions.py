"""review: open review cases for what an import brought in, in the import's transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm import events
from crm.models import ImportBatch
from crm.review.routing import Origin, route_claims, route_policies


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


def register() -> None:
    """Subscribe this feature's handlers (crm.events.subscribe); done on import, so that any
    process that imports the feature (the importer does) has them."""
    events.subscribe(events.RecordsImported, on_records_imported)


register()
