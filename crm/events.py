"""Tiny in-process domain events: a module announces what happened, others react.

Handlers run synchronously in the publisher's transaction (they get its session), so a tier
change and everything that follows from it (benefits, review queues) commit or roll back
together. The segmentation engine knows nothing of this: the recalculation job publishes.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from crm.audit import Actor


@dataclass(frozen=True)
class TierMove:
    customer_id: int
    old_tier: str | None
    new_tier: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class TiersChanged:
    """Customers whose tier changed, in one run (or by an override)."""

    moves: tuple[TierMove, ...]
    run_id: int | None
    actor: Actor


@dataclass(frozen=True)
class RecordsImported:
    """Rows an import created or changed (ids), in the import's transaction.

    ``initial_load``: the import migrates historical data (exempt from late-entry rules).
    """

    kind: str  # customers | policies | claims
    created_ids: tuple[int, ...]
    updated_ids: tuple[int, ...]
    batch_id: int
    initial_load: bool
    actor: Actor


_handlers: dict[type, list[Callable]] = defaultdict(list)


def subscribe(event_type: type, handler: Callable[[Session, object], None]) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def publish(session: Session, event) -> None:
    for handler in list(_handlers[type(event)]):
        handler(session, event)
