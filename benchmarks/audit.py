"""`crm audit verify` speed: write N chained events, then time a full verification.

.venv/bin/python benchmarks/audit.py [--events 1000000] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    from benchmarks._portfolio_db import fresh_database
    from crm import audit
    from crm.db import Database

    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database(args.db, tmp, PG_URL)
        try:
            database = Database(url)
            actor = audit.Actor("cli", "benchmark")
            t = time.perf_counter()
            batch = 10_000
            for start in range(0, args.events, batch):
                with database.transaction() as session:
                    audit.record(
                        session,
                        actor,
                        [
                            audit.Change(
                                "customer.update",
                                "customer",
                                start + i,
                                {"city": "北京"},
                                {"city": "上海", "n": start + i},
                            )
                            for i in range(min(batch, args.events - start))
                        ],
                    )
            print(f"wrote {args.events:,} events in {time.perf_counter() - t:.1f}s ({args.db})")
            t = time.perf_counter()
            with database.session() as session:
                result = audit.verify(session)
            seconds = time.perf_counter() - t
            print(
                f"verified {result.checked:,} events in {seconds:.1f}s "
                f"({result.checked / seconds:,.0f} events/s; target: 1,000,000 in at most 30 s) ok={result.ok}"
            )
            database.dispose()
        finally:
            drop()


if __name__ == "__main__":
    main()
