"""`crm audit verify` of a large portfolio: the audit trail and every audited record's digest.

For each size: a fresh database with N customers, ~2N policies and ~3N claims (loaded in bulk,
as benchmarks/recalc.py does); `crm audit baseline` gives them their digests (what an existing
database does once after the upgrade); a first tier run writes everyone's tier (and its
digests); then verify is timed: the records against their digests (record_digests.verify)
and the trail's hash chain (audit.verify), as the command runs them. The target: verify of a
1M-customer portfolio (2M policies, 3M claims, a first run's tiers) within 60 s.

    .venv/bin/python benchmarks/verify.py [--sizes 250000,1000000] [--db sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AS_OF = dt.date(2025, 6, 30)  # the synthetic portfolio's as-of date


def measure(url: str) -> str:
    from crm import audit, features, record_digests
    from crm.db import Database
    from crm.jobs import recalc

    features.modules(features.FEATURES)  # the features, their subscribers with them
    record_digests.use_secret("benchmark")
    database = Database(url)
    actor = audit.Actor("cli", "benchmark")
    try:
        t = time.perf_counter()
        with database.transaction() as session:
            counts = record_digests.baseline(session)
        baseline = time.perf_counter() - t
        t = time.perf_counter()
        summary = recalc.recalculate(database, recalc.RunRequest(as_of=AS_OF, actor=actor))
        first = time.perf_counter() - t
        audit.seal_pending(database)  # the scheduler seals every second; `crm audit verify` first too
        t, cpu = time.perf_counter(), time.process_time()
        with database.session() as session:  # with a progress callback, as the command runs it
            found = record_digests.verify(session, progress=lambda _done, _total, _table: None)
        records, cpu = time.perf_counter() - t, time.process_time() - cpu
        t = time.perf_counter()
        with database.session() as session:
            trail = audit.verify(session)
        chain = time.perf_counter() - t
    finally:
        database.dispose()
    assert not found and trail.ok, (found[:5], trail.problem)
    rows = sum(counts.values()) + summary.changed
    return (
        f"baseline {baseline:.0f}s ({sum(counts.values()):,} records), first run {first:.0f}s "
        f"({summary.changed:,} tiers); verify {records + chain:.1f}s: records {records:.1f}s "
        f"({rows:,}, {rows / records:,.0f}/s; this process's CPU {cpu:.1f}s), trail {chain:.1f}s ({trail.checked:,} events)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="250000,1000000")
    parser.add_argument("--db", default="both", choices=["sqlite", "postgres", "both"])
    args = parser.parse_args()
    from benchmarks._portfolio_db import frames, fresh_database, load

    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            data = frames(n)
            for kind in kinds:
                url, drop = fresh_database(kind, tmp, PG_URL)
                try:
                    load(url, data)
                    print(f"[{n:,}] {kind}: {measure(url)}; load {os.getloadavg()[0]:.1f}", flush=True)
                finally:
                    drop()
            del data
    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}", flush=True)


if __name__ == "__main__":
    main()
