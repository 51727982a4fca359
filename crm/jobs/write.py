"""Writing a run's changes: the tier state, its history and the audit trail, in bulk.

The changed rows cross from Python to the database once, into a temporary table of the
run's connection; the database then moves the states being replaced into the history,
inserts the new tier rows and updates the changed ones from it (INSERT … SELECT and
UPDATE … FROM, the same SQL on SQLite 3.33+ and PostgreSQL), and the run's constants (its id,
date and time) are not repeated per row. A first run writes a million tier rows and no
history: the history keeps the states a customer has left. (On PostgreSQL this is also faster
than COPY straight into the tables: there the time goes to the per-row foreign-key checks,
which both ways pay.)
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Date, bindparam, table, text
from sqlalchemy.orm import Session

from crm import audit
from crm.db import UTCDateTime, bulk_insert, utcnow
from crm.events import TierMoves
from segmentation.scores import published

AUDIT_CHUNK = 2000
STAGE = "tier_stage"
_STAGE_COLUMNS = ("customer_id", "tier", "reasons", "computed_tier", "computed_reasons", "value_score",
                  "risk_score", "old_tier")
_CREATE_STAGE = f"""CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (
    customer_id INTEGER PRIMARY KEY, tier VARCHAR(10) NOT NULL, reasons VARCHAR(200) NOT NULL,
    computed_tier VARCHAR(10) NOT NULL, computed_reasons VARCHAR(200) NOT NULL,
    value_score NUMERIC(5, 2) NOT NULL, risk_score NUMERIC(5, 2) NOT NULL, old_tier VARCHAR(10))"""
# Typed, so that the date and time are stored in the forms the ORM stores them in elsewhere.
_TYPED = (bindparam("as_of", type_=Date()), bindparam("now", type_=UTCDateTime()))
_NEW_TIERS = f"""INSERT INTO customer_tiers (customer_id, tier, reasons, computed_tier, computed_reasons,
                                             value_score, risk_score, run_id, as_of, updated_at)
    SELECT customer_id, tier, reasons, computed_tier, computed_reasons, value_score, risk_score, :run, :as_of, :now
    FROM {STAGE} WHERE old_tier IS NULL"""  # nosec B608 - constant names
# Customers whose tier moved, then those whose tier stayed: the second UPDATE leaves the tier
# column out, so that SQLite does not touch the tier index for them (a refit rescores nearly
# everyone and moves few; PostgreSQL spares its indexes by itself, see migration 0010).
_MOVED_TIERS = f"""UPDATE customer_tiers SET tier = s.tier, reasons = s.reasons, computed_tier = s.computed_tier,
        computed_reasons = s.computed_reasons, value_score = s.value_score, risk_score = s.risk_score,
        run_id = :run, as_of = :as_of, updated_at = :now
    FROM {STAGE} AS s WHERE customer_tiers.customer_id = s.customer_id AND s.old_tier <> s.tier"""  # nosec B608
_RESCORED_TIERS = f"""UPDATE customer_tiers SET reasons = s.reasons, computed_tier = s.computed_tier,
        computed_reasons = s.computed_reasons, value_score = s.value_score, risk_score = s.risk_score,
        run_id = :run, as_of = :as_of, updated_at = :now
    FROM {STAGE} AS s WHERE customer_tiers.customer_id = s.customer_id AND s.old_tier = s.tier"""  # nosec B608
# The states being replaced move into the history before the updates: the current state is
# stored once, in customer_tiers, so a customer's first tier adds no history row.
_REPLACED = f"""INSERT INTO tier_history (customer_id, run_id, tier, reasons, value_score, risk_score, as_of, changed_at)
    SELECT t.customer_id, t.run_id, t.tier, t.reasons, t.value_score, t.risk_score, t.as_of, t.updated_at
    FROM customer_tiers AS t JOIN {STAGE} AS s ON s.customer_id = t.customer_id
    ORDER BY t.customer_id"""  # nosec B608 - constant names


def _stage(session: Session, rows: list[tuple]) -> None:
    conn = session.connection()
    conn.execute(text(_CREATE_STAGE))
    conn.execute(text(f"DELETE FROM {STAGE}"))  # nosec B608 - a constant name
    bulk_insert(session, table(STAGE), _STAGE_COLUMNS, rows)


def write_changes(session: Session, changed: pd.DataFrame, run_id: int, as_of: dt.date,
                  actor: audit.Actor) -> TierMoves:
    """Upsert the changed customers' tier state, keep the states they leave, audit them.

    Returns the tier moves (customers whose tier itself changed) for the domain event.
    """
    now = utcnow()
    ids = changed.index.to_numpy(dtype="int64").tolist()
    old = changed["old_tier"].astype(object).where(changed["old_tier"].notna(), None).tolist()
    tiers = changed["tier"].astype(object).tolist()
    reasons = changed["reasons"].astype(object).tolist()  # stored text: the codes joined by ";"
    values = published(changed["value_score"]).tolist()
    risks = published(changed["risk_score"]).tolist()
    computed = changed["computed_tier"].astype(object).tolist()
    computed_reasons = changed["computed_reasons"].astype(object).tolist()
    rows = list(zip(ids, tiers, reasons, computed, computed_reasons, values, risks, old))
    conn, constants = session.connection(), {"run": run_id, "as_of": as_of, "now": now}
    _stage(session, rows)
    conn.execute(text(_REPLACED))
    for sql in (_NEW_TIERS, _MOVED_TIERS, _RESCORED_TIERS):
        conn.execute(text(sql).bindparams(*_TYPED), constants)
    conn.execute(text(f"DELETE FROM {STAGE}"))  # nosec B608 - nothing left on the pooled connection
    for start in range(0, len(ids), AUDIT_CHUNK):
        part = slice(start, start + AUDIT_CHUNK)
        audit.record(session, actor, audit.Change("tiers.changed", "tier_run", run_id, None, {"customers": list(
            zip(ids[part], old[part], tiers[part], reasons[part], values[part], risks[part]))}))
    moved = [k for k, (o, t) in enumerate(zip(old, tiers)) if o != t]
    return TierMoves(*([column[k] for k in moved] for column in (ids, old, tiers, reasons)))
