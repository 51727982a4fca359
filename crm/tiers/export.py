"""`crm tiers export`: customer_ref,tier,value_score,risk_score,reasons (reasons ';'-separated)."""

from __future__ import annotations

import datetime as dt
from typing import TextIO

from sqlalchemy import text

from crm import csvout
from crm.db import Database

HEADER = ["customer_ref", "tier", "value_score", "risk_score", "reasons"]


def export_stored(database: Database, out: TextIO) -> int:
    """The tiers as they stand (streamed, in customer order)."""
    writer = csvout.writer(out)
    writer.writerow(HEADER)
    n = 0
    with database.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=10000).execute(
            text(
                "SELECT c.customer_ref, t.tier, t.value_score, t.risk_score, t.reasons FROM customer_tiers t "
                "JOIN customers c ON c.id = t.customer_id ORDER BY c.id"
            )
        )
        for ref, tier, value, risk, reasons in result:
            writer.writerow([ref, tier, csvout.two_decimals(float(value)), csvout.two_decimals(float(risk)), reasons])
            n += 1
    return n


def export_computed(database: Database, out: TextIO, as_of: dt.date, policy_file: str | None) -> int:
    """The tiers as of a date, computed now without changing anything (a dry run)."""
    from crm import audit
    from crm.jobs import recalc

    writer = csvout.writer(out)
    writer.writerow(HEADER)
    req = recalc.RunRequest(as_of=as_of, actor=audit.Actor.cli("tiers export"), mode="preview", policy_file=policy_file)
    result = recalc.compute(database, req)
    with database.engine.connect() as conn:
        refs = dict(conn.execute(text("SELECT id, customer_ref FROM customers")).all())
    for cid, r in result.iterrows():
        writer.writerow(
            [
                refs[cid],
                r.tier,
                csvout.two_decimals(float(r.value_score)),
                csvout.two_decimals(float(r.risk_score)),
                ";".join(r.reasons),
            ]
        )
    return len(result)
