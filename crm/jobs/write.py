"""Writing a run's changes: the tier state, its history and the audit trail, in bulk.

Two steps. ``stage_changes`` sends each partition's changed rows once, as they are known, into
a temporary table of the run's connection (a TEMP table needs no lock on the database: on
SQLite other writers go on while a run stages). ``write_changes`` then applies everything
staged: the states being replaced move into the history, then the new states are inserted or
updated from the stage (INSERT … SELECT, and UPDATE … FROM or an upsert, see _CURRENT), a
partition at a time, the run's constants (its id, date and time) bound once, each statement
returning its rows' digest messages (a helper thread makes the digests of one partition,
record_digests.made, while the next is written; store_made stores them all). It records the
changes' audit events (the run holds them for its commit) and keeps the moves for the
subscribers, who get them once the run has committed (crm.jobs.moves; both from the changes
the run holds, not read back). SQLite applies once, after the scoring, so that its write lock
is held for the writes alone; PostgreSQL applies each partition while the workers score the
next.

Every statement is driven by the staged rows, each finding its tier row by primary key: the
work is O(changes), not a scan of every tier row per chunk. A first run writes a million tier
rows and no history: the history keeps the states a customer has left.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
from sqlalchemy import Date, bindparam, table, text
from sqlalchemy.orm import Session

from crm import audit, record_digests
from crm.bulk import bulk_insert, copy_csv, driver_rows
from crm.db import UTCDateTime, utcnow
from crm.jobs import moves
from segmentation.scores import published

AUDIT_CHUNK = 2000  # customers per audit event
CHUNK = 100_000  # rows sent at a time: memory bounded by the chunk
STAGE = "tier_stage"
_CREATE_STAGE = f"""CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (
    customer_id INTEGER PRIMARY KEY, tier VARCHAR(10) NOT NULL, reasons VARCHAR(200) NOT NULL,
    computed_tier VARCHAR(10) NOT NULL, computed_reasons VARCHAR(200) NOT NULL,
    value_score NUMERIC(5, 2) NOT NULL, risk_score NUMERIC(5, 2) NOT NULL, old_tier VARCHAR(10))"""


# Typed, so that the date and time are stored in the forms the ORM stores them in elsewhere.
_TYPED = (bindparam("as_of", type_=Date()), bindparam("now", type_=UTCDateTime()))
# The states being replaced move into the history before the updates: the current state is
# stored once, in customer_tiers, so a customer's first tier adds no history row. CROSS JOIN
# keeps the stage as the outer loop on SQLite (its planner would otherwise scan every tier row).
# The joins also bound the tier rows by the staged ids (:lo, :hi, the stage's least and
# greatest). PostgreSQL knows nothing of the stage (a TEMP table has no statistics): without
# the bounds it hashed the stage and scanned every tier row, for each partition (a million
# rows per partition of 125,000 at a million customers: quadratic in the portfolio, the
# refit night's growth from 1M to 3M); with them it reads the partition's tier rows alone.
_REPLACED = f"""INSERT INTO tier_history (customer_id, run_id, tier, reasons, value_score, risk_score, as_of, changed_at)
    SELECT t.customer_id, t.run_id, t.tier, t.reasons, t.value_score, t.risk_score, t.as_of, t.updated_at
    FROM {STAGE} AS s CROSS JOIN customer_tiers AS t
    WHERE t.customer_id = s.customer_id AND t.customer_id BETWEEN :lo AND :hi
    ORDER BY s.customer_id"""  # nosec B608 - constant names
_NEW = f"""INSERT INTO customer_tiers (customer_id, tier, reasons, computed_tier, computed_reasons, value_score,
                                      risk_score, run_id, as_of, updated_at)
    SELECT customer_id, tier, reasons, computed_tier, computed_reasons, value_score, risk_score, :run, :as_of, :now
    FROM {STAGE} WHERE ({{0}}) AND customer_id BETWEEN :lo AND :hi ORDER BY customer_id"""  # nosec B608 - constant names
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
_FROM_STAGE = {"run_id": ":run", "as_of": ":as_of", "updated_at": ":now"}  # the run's constants


def _upsert(where: str, columns: tuple[str, ...]) -> str:
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns)
    return f"{_NEW.format(where)} ON CONFLICT (customer_id) DO UPDATE SET {sets}"  # nosec B608 - constant names


def _update(where: str, columns: tuple[str, ...]) -> str:
    sets = ", ".join(f"{c} = {_FROM_STAGE.get(c, 's.' + c)}" for c in columns)
    return (
        f"UPDATE customer_tiers SET {sets} FROM {STAGE} AS s "  # nosec B608 - constant names
        f"WHERE customer_tiers.customer_id = s.customer_id AND customer_tiers.customer_id BETWEEN :lo AND :hi "
        f"AND {where}"
    )


# The current states, driven by the stage: each staged row finds its tier row by key. New
# customers and those whose tier moved, then those whose tier stayed: the last leave the tier
# column out, so that SQLite does not touch the tier index for them (a refit rescores nearly
# everyone and moves few; PostgreSQL spares its indexes by itself, see migration 0010).
# SQLite's planner, without statistics, would scan every tier row for an UPDATE … FROM (or an
# UPDATE … FROM a subquery) of the stage, so there they are upserts, which can only scan the
# stage; PostgreSQL's drives the UPDATE from the stage by itself, and its upsert is slower
# (2.0 s against 1.3 s per 250,000 rescored customers, measured).
_CURRENT = {
    "sqlite": (
        (_upsert("old_tier IS NULL OR old_tier <> tier", ("tier", *_RESCORED_COLUMNS)), "new_or_moved"),
        (_upsert("old_tier = tier", _RESCORED_COLUMNS), "kept"),
    ),
    "postgresql": (
        (_NEW.format("old_tier IS NULL"), "new"),
        (_update("s.old_tier <> s.tier", ("tier", *_RESCORED_COLUMNS)), "moved"),
        (_update("s.old_tier = s.tier", _RESCORED_COLUMNS), "kept"),
    ),
}

# Each written tier row's digest message, returned by the statement that wrote it (for
# record_digests.made): the state as written, without reading it back. Qualified:
# the stage of an UPDATE … FROM has columns of the same names.
_RETURNING = {
    dialect: f" RETURNING customer_tiers.customer_id, {record_digests.message_sql(dialect, 'customer_tiers', 'customer_tiers.')}"
    for dialect in _CURRENT
}


def _staged(parts: list[pd.DataFrame]) -> dict:
    """What the stage holds (the changes ``parts``), counted in memory: the rows that are new,
    replace a state, move or keep a tier."""
    counts = Counter()
    for part in parts:
        there = part["old_tier"].notna()
        kept = there & (part["old_tier"].astype(object) == part["tier"].astype(object))
        counts.update(new=int((~there).sum()), replaced=int(there.sum()), kept=int(kept.sum()))
    moved = counts["replaced"] - counts["kept"]
    return {
        "new": counts["new"],
        "replaced": counts["replaced"],
        "moved": moved,
        "kept": counts["kept"],
        "new_or_moved": counts["new"] + moved,
    }


def clear_stage(session: Session) -> None:
    """An empty stage on the session's connection (created on first use)."""
    conn = session.connection()
    conn.execute(text(_CREATE_STAGE))
    conn.execute(text(f"DELETE FROM {STAGE}"))  # nosec B608 - a constant name


RENDERED = "stage_csv"  # in a partition's changes' attrs: their stage rows as COPY's CSV, a text per CHUNK


def render_stage(changed: pd.DataFrame) -> None:
    """Make the stage rows of a partition's changes into COPY's CSV, kept in the frame's
    attrs (a worker process does it, for PostgreSQL: the run's own process, which writes
    every partition, then only sends the text)."""
    changed.attrs[RENDERED] = [
        copy_csv(_stage_columns(changed.iloc[start : start + CHUNK])) for start in range(0, len(changed), CHUNK)
    ]


def stage_changes(session: Session, changed: pd.DataFrame) -> None:
    """Send the changed customers' new state to the stage."""
    rendered = changed.attrs.pop(RENDERED, None)  # before slicing: a slice keeps its frame's attrs
    for i, start in enumerate(range(0, len(changed), CHUNK)):
        chunk = _stage_columns(changed.iloc[start : start + CHUNK])
        bulk_insert(session, table(STAGE), chunk, rendered[i] if rendered else None)


def _texts(column: pd.Series) -> list:
    """A column of the changes (a tier, or reasons as stored: the codes joined by ";") as a list
    of texts, None where there is none (a new customer's old tier)."""
    values = column.astype(object)
    return values.where(values.notna(), None).tolist()


def _ids(changed: pd.DataFrame) -> list[int]:
    return changed.index.to_numpy(dtype="int64").tolist()


def _stage_columns(changed: pd.DataFrame) -> dict[str, list]:
    """The stage's columns of some changes, as bulk_insert takes them."""
    return {
        "customer_id": _ids(changed),
        **{c: _texts(changed[c]) for c in ("tier", "reasons", "computed_tier", "computed_reasons")},
        **{c: published(changed[c]).tolist() for c in ("value_score", "risk_score")},
        "old_tier": _texts(changed["old_tier"]),
    }


# A run's audit event per AUDIT_CHUNK changed customers: (name in the event, column of the changes)
_AUDITED_TEXTS = (("from", "old_tier"), ("to", "tier"), ("reasons", "reasons"))


def _audit_changes(parts: list[pd.DataFrame], run_id: int) -> list[audit.Change]:
    """The tiers.changed events of ``parts``, a column per field (no tuple per customer to
    build, and a fifth less JSON than a row each), already in their canonical JSON. Each
    partition's columns are made lists once, then cut into the events."""
    out = []
    for part in parts:
        columns = {
            "customer_id": _ids(part),
            **{name: _texts(part[column]) for name, column in _AUDITED_TEXTS},
            **{name: published(part[name]).tolist() for name in ("value_score", "risk_score")},
        }
        for first in range(0, len(part), AUDIT_CHUNK):
            after = {name: values[first : first + AUDIT_CHUNK] for name, values in columns.items()}
            out.append(audit.as_text(audit.Change("tiers.changed", "tier_run", run_id, None, after)))
    return out


def moves_of(part: pd.DataFrame) -> pd.DataFrame:
    """The changes of ``part`` that move a customer's tier (a new customer's first one included)."""
    return part[part["old_tier"].astype(object) != part["tier"].astype(object)]


def _bounds(parts: list[pd.DataFrame]) -> list[tuple[int, int]]:
    """The least and greatest id of each part that has changes (parts are ranges of ids)."""
    return [(int(part.index.min()), int(part.index.max())) for part in parts if len(part)]


def write_changes(session: Session, parts: list[pd.DataFrame], run_id: int, as_of: dt.date, actor: audit.Actor) -> int:
    """Apply the staged changes (keeping the states they replace), record the audit events of
    ``parts`` (the changes staged), keep their moves for the subscribers (benefits, queues:
    crm.jobs.moves), and empty the stage. Returns the number of moves.

    The tier rows are written a part at a time, and a helper thread makes each part's digests
    while the connection writes the next: the database works while Python hashes, where one
    after the other each waited for the other."""
    conn, staged, bounds = session.connection(), _staged(parts), _bounds(parts)
    constants = {"run": run_id, "as_of": as_of, "now": utcnow()}
    if staged["replaced"]:  # a first run has no state to replace; all the parts' ids at once
        everyone = {"lo": min(lo for lo, _hi in bounds), "hi": max(hi for _lo, hi in bounds)}
        conn.execute(text(_REPLACED), {**constants, **everyone})
    with ThreadPoolExecutor(1) as helper:
        digests = []
        for sql, rows in _CURRENT[conn.dialect.name]:
            if staged[rows]:
                statement = text(sql + _RETURNING[conn.dialect.name]).bindparams(*_TYPED)
                for lo, hi in bounds:
                    written = driver_rows(conn, statement, {**constants, "lo": lo, "hi": hi})
                    digests.append(helper.submit(record_digests.made, "customer_tiers", written))
        record_digests.store_made(session, "customer_tiers", (digest.result() for digest in digests))
    conn.execute(text(f"DELETE FROM {STAGE}"))  # nosec B608 - nothing left on the pooled connection
    audit.record(session, actor, _audit_changes(parts, run_id))
    return sum(moves.store(session, run_id, actor, moves_of(part)) for part in parts)
