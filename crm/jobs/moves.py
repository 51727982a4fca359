"""A run's tier moves: kept in its transaction (an outbox), published after it commits.

The subscribers (the benefits that follow the tiers) do not run inside the recalculation's
transaction. The run stores its moves as batches (crm.models.TierMoveBatch), so they exist
exactly when its tiers do; ``deliver`` then publishes each batch in a transaction of its own
that also marks it delivered: each batch once, in the order stored, whoever delivers (the
command or the scheduler that ran the run, or the scheduler's catch-up job after a crash).
Never in a process where no subscriber is registered (the features that follow the tiers
never imported): marked delivered there, the moves would be lost; it raises NoSubscribers.

Why: a first run at a million customers makes 76,585 new VIPs, whose grants, enrolments and
fees took 1.8 s (SQLite) and 5.3 s (PostgreSQL) more inside the run's transaction, during
which SQLite's single write lock was held. Delivered in batches of BATCH customers, each
transaction holds it for a fraction of a second, and a subscriber's failure (a bad benefit
catalogue, say) leaves the run's tiers published and the batch pending, to be retried, with
its error shown on the run. Until its batch is delivered, a new VIP has no grants yet and a
leaver's balance stands, but the subscribers act on the customer's tier as it is when the
batch is delivered (crm.benefits.subscriptions), so a late batch cannot undo a later move.
"""

from __future__ import annotations

import dataclasses
import json
import traceback
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from crm import audit, events
from crm.db import Database, utcnow
from crm.models import TierMoveBatch

# Customers per batch, delivered in one transaction: a first run at 1M makes 64 batches (each
# partition's moves are batched apart), 8 of them of new VIPs, whose grants hold SQLite's write
# lock about a second each on a machine where the benchmark's bare GROUP BY takes 6 s.
BATCH = 20_000
_ID_BYTES = "<i8"  # how a batch's ids are stored


def store(session: Session, run_id: int, actor: audit.Actor, moved: pd.DataFrame) -> int:
    """Keep the moves of ``moved`` (changes indexed by customer id whose ``old_tier`` and
    ``tier`` differ) for delivery, in the session's transaction. Returns how many."""
    if not len(moved):
        return 0
    who, now, rows = json.dumps(dataclasses.asdict(actor)), utcnow(), []
    pairs = pd.DataFrame(
        {"old": moved["old_tier"].astype(object).fillna(""), "new": moved["tier"].astype(object)}, index=moved.index
    )
    for (old, new), ids in pairs.groupby(["old", "new"], sort=True).groups.items():
        ids = np.sort(np.asarray(ids, dtype=_ID_BYTES))
        for start in range(0, len(ids), BATCH):
            part = ids[start : start + BATCH]
            rows.append(
                {
                    "run_id": run_id,
                    "old_tier": old or None,
                    "new_tier": new,
                    "customers": len(part),
                    "customer_ids": part.tobytes(),
                    "actor": who,
                    "created_at": now,
                    "attempts": 0,
                }
            )
    session.execute(insert(TierMoveBatch), rows)
    return len(moved)


class NoSubscribers(RuntimeError):
    """This process has no subscriber to deliver the moves to: the features that follow the
    tiers were never imported in it. The batches stay pending for a process that has them."""


@dataclass
class Delivery:
    batches: int = 0
    moves: int = 0
    error: str | None = None  # the batch that failed, and why (it stays pending)


def deliver(database: Database) -> Delivery:
    """Publish every pending batch, oldest first, each in its own transaction with the mark
    that it was delivered. Stops at the first failure (later batches wait for it: a
    customer's moves are delivered in order), recording it on the batch.

    Raises NoSubscribers, marking nothing, if a batch is pending and no subscriber is
    registered in this process: marked delivered, its moves would be lost."""
    done = Delivery()
    while True:
        batch_id = None
        try:
            with database.transaction() as session:
                batch = session.scalar(
                    select(TierMoveBatch)
                    .where(TierMoveBatch.delivered_at.is_(None))
                    .order_by(TierMoveBatch.id)
                    .limit(1)
                )
                if batch is None:
                    return done
                if not events.subscribers(events.TiersChanged):
                    raise NoSubscribers(
                        f"tier moves pending (batch {batch.id}, run {batch.run_id}) but no subscriber to "
                        "TiersChanged in this process: import the features (crm.features) before delivering"
                    )
                batch_id = batch.id
                # The mark first: a second deliverer waits on it (PostgreSQL's row lock, SQLite's
                # write lock), then finds the batch delivered and goes on to the next.
                if not session.execute(
                    update(TierMoveBatch)
                    .where(TierMoveBatch.id == batch_id, TierMoveBatch.delivered_at.is_(None))
                    .values(delivered_at=utcnow(), attempts=TierMoveBatch.attempts + 1, error=None)
                ).rowcount:
                    continue
                ids = np.frombuffer(batch.customer_ids, dtype=_ID_BYTES).tolist()
                events.publish(
                    session,
                    events.TiersChanged(
                        events.TierMoves.of_pair(ids, batch.old_tier, batch.new_tier),
                        batch.run_id,
                        audit.Actor(**json.loads(batch.actor)),
                    ),
                )
        except NoSubscribers:
            raise
        except Exception as exc:  # noqa: BLE001 - kept on the batch, retried by the next delivery
            reason = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
            if batch_id is None:  # none was taken (the database is not reachable, say)
                done.error = reason
                return done
            with database.transaction() as session:
                session.execute(
                    update(TierMoveBatch)
                    .where(TierMoveBatch.id == batch_id)
                    .values(attempts=TierMoveBatch.attempts + 1, error=reason)
                )
            done.error = f"batch {batch_id}: {reason}"
            return done
        done.batches += 1
        done.moves += len(ids)


def pending(session: Session, run_id: int | None = None) -> tuple[int, str | None]:
    """Moves not yet delivered (of one run, or of all), and the last error met delivering them."""
    where = [TierMoveBatch.delivered_at.is_(None)]
    if run_id is not None:
        where.append(TierMoveBatch.run_id == run_id)
    moves = session.scalar(select(func.coalesce(func.sum(TierMoveBatch.customers), 0)).where(*where))
    error = session.scalar(
        select(TierMoveBatch.error).where(*where, TierMoveBatch.error.is_not(None)).order_by(TierMoveBatch.id).limit(1)
    )
    return int(moves), error
