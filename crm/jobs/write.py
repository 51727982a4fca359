"""Writing a run's changes: the tier state, its history and the audit trail, in bulk."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from crm import audit
from crm.db import bulk_insert, utcnow
from crm.events import TierMove
from crm.models import CustomerTier, TierHistory

AUDIT_CHUNK = 2000


def write_changes(session: Session, changed: pd.DataFrame, run_id: int, as_of: dt.date,
                  actor: audit.Actor) -> list[TierMove]:
    """Upsert the changed customers' tier state, add their history, audit them.

    Returns the tier moves (customers whose tier itself changed) for the domain event.
    """
    now = utcnow()
    ids = [int(i) for i in changed.index]
    old = [None if pd.isna(t) else t for t in changed["old_tier"].astype(object)]
    tiers = changed["tier"].astype(object).tolist()
    reasons = changed["reasons"].astype(object).tolist()  # stored text: the codes joined by ";"
    computed = changed["computed_tier"].astype(object).tolist()
    computed_reasons = changed["computed_reasons"].astype(object).tolist()
    values = changed["value_score"].astype(float).round(2).tolist()
    risks = changed["risk_score"].astype(float).round(2).tolist()
    rows = list(zip(ids, tiers, reasons, computed, computed_reasons, values, risks))
    fresh = [r + (run_id, as_of, now) for r, o in zip(rows, old) if o is None]
    bulk_insert(session, CustomerTier.__table__, ("customer_id", "tier", "reasons", "computed_tier",
                                                  "computed_reasons", "value_score", "risk_score", "run_id",
                                                  "as_of", "updated_at"), fresh)
    existing = [{"b_id": r[0], "b_tier": r[1], "b_reasons": r[2], "b_computed_tier": r[3],
                 "b_computed_reasons": r[4], "b_value_score": r[5], "b_risk_score": r[6]}
                for r, o in zip(rows, old) if o is not None]
    if existing:
        table = CustomerTier.__table__
        session.connection().execute(
            update(table).where(table.c.customer_id == bindparam("b_id")).values(
                tier=bindparam("b_tier"), reasons=bindparam("b_reasons"), computed_tier=bindparam("b_computed_tier"),
                computed_reasons=bindparam("b_computed_reasons"), value_score=bindparam("b_value_score"),
                risk_score=bindparam("b_risk_score"), run_id=run_id, as_of=as_of, updated_at=now),
            existing)
    bulk_insert(session, TierHistory.__table__, ("customer_id", "run_id", "tier", "previous_tier", "reasons",
                                                 "value_score", "risk_score", "as_of", "changed_at"),
                [(i, run_id, t, o, r, v, k, as_of, now) for i, t, o, r, v, k in zip(ids, tiers, old, reasons, values, risks)])
    for start in range(0, len(ids), AUDIT_CHUNK):
        part = slice(start, start + AUDIT_CHUNK)
        audit.record(session, actor, audit.Change("tiers.changed", "tier_run", run_id, None, {"customers": [
            list(r) for r in zip(ids[part], old[part], tiers[part], reasons[part], values[part], risks[part])]}))
    codes = {r: tuple(r.split(";")) if r else () for r in set(reasons)}  # a few dozen distinct sets
    return [TierMove(i, o, t, codes[r]) for i, o, t, r in zip(ids, old, tiers, reasons) if o != t]
