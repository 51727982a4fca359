"""The audit trail's figures.

`crm audit verify` speed: write N chained events, then time a full verification.

    .venv/bin/python benchmarks/audit.py [--events 1000000] [--db sqlite|postgres]

What recording costs a writer: ``--writers W`` threads each commit small audited
transactions (a row of their own and one event, as a redemption's attempt and event) for
``--seconds``, first through audit.record (with the sealer running every second beside them,
as the scheduler runs it), then with the same event appended by a plain INSERT into a table of
the same columns and nothing else. Before the sealer (main at 77e7561) record() took the
single head row, which serialised every audited write; the ratio showed its cost.

    .venv/bin/python benchmarks/audit.py --writers 16 [--seconds 10] [--db sqlite|postgres]
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


def _writers(database, writers: int, seconds: float, chained: bool) -> tuple[float, float]:
    """Transactions per second and their p99 in ms, of ``writers`` threads for ``seconds``."""
    import threading

    from sqlalchemy import insert

    from crm import audit

    actor, stop, latencies = audit.Actor("cli", "benchmark"), time.perf_counter() + seconds, []
    scratch = _scratch_tables(database)

    def work(i: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            t = time.perf_counter()
            change = audit.Change("coupon.redeem", "redemption", i * 1_000_000 + n, None, {"n": n, "writer": i})
            with database.transaction() as session:
                session.execute(insert(scratch["work"]), {"writer": i, "n": n})
                if chained:
                    audit.record(session, actor, change)
                else:
                    row = audit._event_row(actor, change, audit.utcnow())
                    session.execute(insert(scratch["events"]), {**row, "prev_hash": "", "hash": ""})
            latencies.append(time.perf_counter() - t)
            n += 1

    def sealer() -> None:
        while time.perf_counter() < stop:
            audit.seal_pending(database)
            time.sleep(1)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    if chained:
        threads.append(threading.Thread(target=sealer))
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.99)] * 1000


def _scratch_tables(database) -> dict:
    """A table for each writer's own row, and one of the audit events' columns without the head."""
    from sqlalchemy import Column, Integer, MetaData, Table

    from crm.models import AuditEvent

    metadata = MetaData()
    work = Table(
        "bench_work", metadata, Column("id", Integer, primary_key=True), Column("writer", Integer), Column("n", Integer)
    )
    events = Table(
        "bench_events",
        metadata,
        Column("id", Integer, primary_key=True),
        *(
            Column(c.name, c.type, nullable=c.nullable)
            for c in AuditEvent.__table__.columns
            if c.name not in ("seq", "position")
        ),
    )
    metadata.create_all(database.engine)
    return {"work": work, "events": events}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--writers", type=int, default=0, help="measure the head's cost with this many writers")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    from benchmarks._portfolio_db import fresh_database
    from crm import audit
    from crm.db import Database

    if args.writers:
        with tempfile.TemporaryDirectory() as tmp:
            url, drop = fresh_database(args.db, tmp, PG_URL)
            try:
                database = Database(url)
                figures = {}
                for _round in range(2):  # each side twice, taking turns: the machine's load falls on both
                    for chained in (True, False):
                        rps, p99 = _writers(database, args.writers, args.seconds / 2, chained)
                        figures.setdefault(chained, []).append((rps, p99))
                for chained in (True, False):
                    rps = sum(r for r, _ in figures[chained]) / 2
                    p99 = max(p for _, p in figures[chained])
                    print(
                        f"{args.db:<8} {'audit.record' if chained else 'plain INSERT':<15} "
                        f"{rps:7.0f} transactions/s, p99 {p99:.1f} ms ({args.writers} writers)"
                    )
                ratio = sum(r for r, _ in figures[True]) / sum(r for r, _ in figures[False])
                print(f"{args.db:<8} audit.record keeps {ratio:.0%} of the plain INSERT's throughput")
                audit.seal_pending(database)
                with database.session() as session:
                    print(f"{args.db:<8} chain intact: {audit.verify(session).ok}")
                database.dispose()
            finally:
                drop()
        return

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
