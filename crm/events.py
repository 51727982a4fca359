"""Tiny in-process domain events: a module announces what happened, others react.

Handlers run synchronously in the publisher's transaction (they get its session), so what
happened and everything that follows from it (benefits, review queues) commit or roll back
together. A recalculation run is the exception: it keeps its moves in an outbox in its own
transaction, and they are published after it commits, a batch per transaction
(crm.jobs.moves). The segmentation engine knows nothing of this.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy.orm import Session

from crm.audit import Actor


class TierMove(NamedTuple):
    """One customer's move (a named tuple: a first run makes a million of them). Why they
    moved is in their tier state and its history."""

    customer_id: int
    old_tier: str | None
    new_tier: str


class TierMoves(Sequence):
    """Moves kept as columns (a first run moves a million customers): a TierMove is made only
    for whoever reads one, and ``groups`` makes none."""

    def __init__(self, customer_ids: list[int], old_tiers: list, new_tiers: list[str]):
        self._columns = (customer_ids, old_tiers, new_tiers)
        self._pair = None  # (old tier, new tier) when every move is the same (of_pair)

    def __len__(self) -> int:
        return len(self._columns[0])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [TierMove(*row) for row in zip(*(column[i] for column in self._columns))]
        return TierMove(*(column[i] for column in self._columns))

    def __iter__(self):
        return (TierMove(*row) for row in zip(*self._columns))

    def groups(self) -> dict[tuple[str | None, str], list[int]]:
        if self._pair is not None:
            return {self._pair: self._columns[0]} if self._pair[0] != self._pair[1] and len(self) else {}
        return _grouped(zip(*self._columns))

    @classmethod
    def of_pair(cls, customer_ids: list[int], old_tier: str | None, new_tier: str) -> TierMoves:
        """Customers who all made the same move (grouped without looking at each)."""
        moves = cls(customer_ids, [old_tier] * len(customer_ids), [new_tier] * len(customer_ids))
        moves._pair = (old_tier, new_tier)
        return moves


def moves_by_pair(moves) -> dict[tuple[str | None, str], list[int]]:
    """The ids of the customers whose tier changed, by (old tier, new tier)."""
    if isinstance(moves, TierMoves):
        return moves.groups()
    return _grouped((m.customer_id, m.old_tier, m.new_tier) for m in moves)


def _grouped(rows) -> dict[tuple[str | None, str], list[int]]:
    groups: dict[tuple[str | None, str], list[int]] = defaultdict(list)
    for customer_id, old, new in rows:
        if old != new:
            groups[(old, new)].append(customer_id)
    return dict(groups)


@dataclass(frozen=True)
class TiersChanged:
    """Customers whose tier changed, in one run (or by an override)."""

    moves: Sequence[TierMove]  # a tuple, or TierMoves
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


def subscribers(event_type: type) -> tuple[Callable, ...]:
    """The handlers subscribed to ``event_type`` in this process (each feature's
    subscriptions module subscribes its own when the feature is imported)."""
    return tuple(_handlers.get(event_type, ()))


def publish(session: Session, event) -> None:
    for handler in list(_handlers[type(event)]):
        handler(session, event)
