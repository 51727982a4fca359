"""Writing a run's changes: the tier state, its history and the audit trail, in bulk."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from crm import audit
from crm.db import utcnow
from crm.events import TierMove
from crm.models import CustomerTier, TierHistory

AUDIT_CHUNK = 2000


def _codes(reasons) -> str:
    return ";".join(reasons)


def write_changes(session: Session, changed: pd.DataFrame, run_id: int, as_of: dt.date,
                  actor: audit.Actor) -> list[TierMove]:
    """Upsert the changed customers' tier state, add their history, audit them.

    Returns the tier moves (customers whose tier itself changed) for the domain event.
    """
    now = utcnow()
    rows = [{
        "customer_id": int(cid), "tier": r.tier, "reasons": _codes(r.reasons), "computed_tier": r.computed_tier,
        "computed_reasons": _codes(r.computed_reasons), "value_score": round(float(r.value_score), 2),
        "risk_score": round(float(r.risk_score), 2), "run_id": run_id, "as_of": as_of, "updated_at": now,
        "old_tier": None if pd.isna(r.old_tier) else r.old_tier,
    } for cid, r in zip(changed.index, changed.itertuples(index=False))]
    conn = session.connection()
    table = CustomerTier.__table__
    fields = ("tier", "reasons", "computed_tier", "computed_reasons", "value_score", "risk_score", "run_id",
              "as_of", "updated_at")
    existing = [{"b_id": r["customer_id"], **{f"b_{f}": r[f] for f in fields}} for r in rows if r["old_tier"]]
    fresh = [{k: r[k] for k in ("customer_id", *fields)} for r in rows if not r["old_tier"]]
    if existing:
        conn.execute(update(table).where(table.c.customer_id == bindparam("b_id"))
                     .values({f: bindparam(f"b_{f}") for f in fields}), existing)
    if fresh:
        conn.execute(table.insert(), fresh)
    conn.execute(TierHistory.__table__.insert(), [{
        "customer_id": r["customer_id"], "run_id": run_id, "tier": r["tier"], "previous_tier": r["old_tier"],
        "reasons": r["reasons"], "value_score": r["value_score"], "risk_score": r["risk_score"], "as_of": as_of,
        "changed_at": now} for r in rows])
    for i in range(0, len(rows), AUDIT_CHUNK):
        part = rows[i:i + AUDIT_CHUNK]
        audit.record(session, actor, audit.Change("tiers.changed", "tier_run", run_id, None, {"customers": [
            [r["customer_id"], r["old_tier"], r["tier"], r["reasons"], r["value_score"], r["risk_score"]]
            for r in part]}))
    return [TierMove(r["customer_id"], r["old_tier"], r["tier"], tuple(r["reasons"].split(";")) if r["reasons"] else ())
            for r in rows if r["old_tier"] != r["tier"]]
