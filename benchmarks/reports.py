"""Time of the two contract reports (`crm reports export pending_claims|premium`) on a large portfolio.

Loads N synthetic customers with their policies and claims (benchmarks/_portfolio_db.py's
bulk loader, not the importer) and times each report, as the command line computes it.

    .venv/bin/python benchmarks/reports.py [--customers 1000000] [--db sqlite|postgres|both]

PostgreSQL: DATABASE_URL (or CRM_TEST_POSTGRES_URL) naming a server the benchmark may create
a database on.
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

from sqlalchemy import create_engine  # noqa: E402

from benchmarks._portfolio_db import frames, fresh_database, load  # noqa: E402


def measure(kind: str, n: int, pg: str | None, tmp: str) -> None:
    from crm.workspace.statutory import REPORTS

    url, drop = fresh_database(kind, tmp, pg)
    try:
        started = time.perf_counter()
        data = frames(n)
        load(url, data)
        print(
            f"{kind}: {n:,} customers, {len(data['policies']):,} policies, {len(data['claims']):,} claims "
            f"loaded in {time.perf_counter() - started:.0f}s"
        )
        engine = create_engine(url)
        as_of = dt.date.today()
        for name, report in REPORTS.items():
            with engine.connect() as conn:
                started = time.perf_counter()
                rows = report(conn, as_of)
                print(f"  {name:<16} {time.perf_counter() - started:6.1f}s  ({len(rows)} rows)")
        engine.dispose()
    finally:
        drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    os.environ.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-bench-"))
    pg = os.environ.get("DATABASE_URL") or os.environ.get("CRM_TEST_POSTGRES_URL")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in kinds and not (pg or "").startswith("postgresql"):
        print("PostgreSQL needs DATABASE_URL=postgresql+psycopg://…", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        for kind in kinds:
            measure(kind, args.customers, pg, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
