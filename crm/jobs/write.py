"""Writing a run's changes: the tier state and its history, in bulk.

Two steps. ``stage_changes`` sends each partition's changed rows once, as they are known, into
a temporary table of the run's connection (a TEMP table needs no lock on the database: on
SQLite other writers go on while a run stages). ``write_changes`` then applies everything
staged: the states being replaced move into the history, then the new states are upserted
from the stage (INSERT … SELECT … ON CONFLICT), the run's constants (its id, date and time)
bound once, and the moves are kept for the subscribers, who get them once the run has
committed (crm.jobs.moves). SQLite applies once, after the scoring, so that its write lock is
held for the writes alone; PostgreSQL applies each partition while the workers score the
next. The run records its audit events (``audit_changes``) at its end.

Every statement is driven by the staged rows, each finding its tier row by primary key: the
work is O(changes), not a scan of every tier row per chunk. A first run writes a million tier
rows and no history: the history keeps the states a customer has left.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pandas as pd
from sqlalchemy import Column, Date, Integer, MetaData, Numeric, String, Table, bindparam, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from crm import audit
from crm.db import UTCDateTime, bulk_insert, utcnow
from crm.jobs import moves
from segmentation.scores import published

AUDIT_CHUNK = 2000  # customers per audit event
CHUNK = 100_000  # rows sent at a time: memory bounded by the chunk
STAGE = Table(
    "tier_stage",
    MetaData(),
    Column("customer_id", Integer, primary_key=True),
    Column("tier", String(10), nullable=False),
    Column("reasons", String(200), nullable=False),
    Column("computed_tier", String(10), nullable=False),
    Column("computed_reasons", String(200), nullable=False),
    Column("value_score", Numeric(5, 2), nullable=False),
    Column("risk_score", Numeric(5, 2), nullable=False),
    Column("old_tier", String(10)),
    prefixes=["TEMPORARY"],
)
# Typed, so that the date and time are stored in the forms the ORM stores them in elsewhere.
_TYPED = (bindparam("as_of", type_=Date()), bindparam("now", type_=UTCDateTime()))
# The states being replaced move into the history before the upserts: the current state is
# stored once, in customer_tiers, so a customer's first tier adds no history row. CROSS JOIN
# keeps the stage as the outer loop on SQLite (its planner would otherwise scan every tier
# row); the bounds (:lo, :hi, the stage's least and greatest id) tell PostgreSQL, which has no
# statistics of a TEMP table, that only the partition's tier rows are wanted.
_REPLACED = text("""INSERT INTO tier_history (customer_id, run_id, tier, reasons, value_score, risk_score, as_of,
                                      changed_at)
    SELECT t.customer_id, t.run_id, t.tier, t.reasons, t.value_score, t.risk_score, t.as_of, t.updated_at
    FROM tier_stage AS s CROSS JOIN customer_tiers AS t
    WHERE t.customer_id = s.customer_id AND t.customer_id BETWEEN :lo AND :hi
    ORDER BY s.customer_id""")
_RESCORED_COLUMNS = (
    "reasons",
    "computed_tier",
    "computed_reasons",
    "value_score",
    "risk_score",
    "run_id",
    "as_of",
    "updated_at",
)


def _upsert(where: str, columns: tuple[str, ...]):
    """The staged rows that satisfy ``where`` as the current states, ``columns`` updated where
    there is one (the tier column left out when the tier stays: its index is not touched)."""
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns)
    return text(f"""INSERT INTO customer_tiers (customer_id, tier, reasons, computed_tier, computed_reasons,
                                       value_score, risk_score, run_id, as_of, updated_at)
    SELECT customer_id, tier, reasons, computed_tier, computed_reasons, value_score, risk_score, :run, :as_of, :now
    FROM tier_stage WHERE {where} ORDER BY customer_id
    ON CONFLICT (customer_id) DO UPDATE SET {sets}""").bindparams(*_TYPED)  # nosec B608 - constants


_NEW_OR_MOVED = _upsert("old_tier IS NULL OR old_tier <> tier", ("tier", *_RESCORED_COLUMNS))
_KEPT = _upsert("old_tier = tier", _RESCORED_COLUMNS)


def clear_stage(session: Session) -> None:
    """An empty stage on the session's connection (created on first use)."""
    conn = session.connection()
    conn.execute(CreateTable(STAGE, if_not_exists=True))
    conn.execute(STAGE.delete())


def _texts(column: pd.Series) -> list:
    """A column of the changes (a tier, or reasons as stored: the codes joined by ";") as a list
    of texts, None where there is none (a new customer's old tier)."""
    values = column.astype(object)
    return values.where(values.notna(), None).tolist()


def _ids(changed: pd.DataFrame) -> list[int]:
    return changed.index.to_numpy(dtype="int64").tolist()


def stage_changes(session: Session, changed: pd.DataFrame) -> None:
    """Send the changed customers' new state to the stage."""
    for start in range(0, len(changed), CHUNK):
        chunk = changed.iloc[start : start + CHUNK]
        bulk_insert(
            session,
            STAGE,
            {
                "customer_id": _ids(chunk),
                **{c: _texts(chunk[c]) for c in ("tier", "reasons", "computed_tier", "computed_reasons", "old_tier")},
                **{c: published(chunk[c]).tolist() for c in ("value_score", "risk_score")},
            },
        )


# A run's audit event per AUDIT_CHUNK changed customers: (name in the event, column of the changes)
_AUDITED_TEXTS = (("from", "old_tier"), ("to", "tier"), ("reasons", "reasons"))


def audit_changes(parts: list[pd.DataFrame], run_id: int) -> list[audit.Change]:
    """The tiers.changed events of ``parts`` (a run's changes), a column per field."""
    out = []
    for part in parts:
        for first in range(0, len(part), AUDIT_CHUNK):
            chunk = part.iloc[first : first + AUDIT_CHUNK]
            out.append(
                audit.Change(
                    "tiers.changed",
                    "tier_run",
                    run_id,
                    None,
                    {
                        "customer_id": _ids(chunk),
                        **{name: _texts(chunk[column]) for name, column in _AUDITED_TEXTS},
                        **{name: published(chunk[name]).tolist() for name in ("value_score", "risk_score")},
                    },
                )
            )
    return out


def moves_of(part: pd.DataFrame) -> pd.DataFrame:
    """The changes of ``part`` that move a customer's tier (a new customer's first one included)."""
    return part[part["old_tier"].astype(object) != part["tier"].astype(object)]


def _staged(parts: list[pd.DataFrame]) -> Counter:
    """What the stage holds (the changes ``parts``), counted in memory: the rows that replace
    a state, that are new or move, and that keep their tier."""
    counts = Counter()
    for part in parts:
        there = part["old_tier"].notna()
        kept = there & (part["old_tier"].astype(object) == part["tier"].astype(object))
        counts.update(replaced=int(there.sum()), kept=int(kept.sum()), new_or_moved=int((~kept).sum()))
    return counts


def write_changes(session: Session, parts: list[pd.DataFrame], run_id: int, as_of: dt.date, actor: audit.Actor) -> int:
    """Apply the staged changes (keeping the states they replace), keep their moves for the
    subscribers (benefits, queues: crm.jobs.moves), and empty the stage. Returns the number
    of moves."""
    ids = [part.index for part in parts if len(part)]
    if not ids:
        return 0
    conn, staged = session.connection(), _staged(parts)
    constants = {
        "run": run_id,
        "as_of": as_of,
        "now": utcnow(),
        "lo": min(int(i.min()) for i in ids),
        "hi": max(int(i.max()) for i in ids),
    }
    if staged["replaced"]:  # a first run has no state to replace
        conn.execute(_REPLACED, constants)
    if staged["new_or_moved"]:
        conn.execute(_NEW_OR_MOVED, constants)
    if staged["kept"]:
        conn.execute(_KEPT, constants)
    conn.execute(STAGE.delete())  # nothing left on the pooled connection
    return sum(moves.store(session, run_id, actor, moves_of(part)) for part in parts)
