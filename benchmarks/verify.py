"""`crm audit verify` of a large portfolio: the audit trail and every audited record's digest.

For each size: a fresh database with N customers, ~2N policies and ~3N claims (loaded in bulk,
as benchmarks/recalc.py does); `crm audit baseline` gives them their digests (what an existing
database does once after the upgrade); a first tier run writes everyone's tier (and its
digests); then verify is timed: the records against their digests (record_digests.verify)
and the trail's hash chain (audit.verify), as the command runs them. The target: verify of a
1M-customer portfolio (2M policies, 3M claims, a first run's tiers) within 60 s.

    .venv/bin/python benchmarks/verify.py [--sizes 250000,1000000] [--db sqlite|postgres|both] [--keep]

Building a portfolio takes minutes at 1M; with --keep the database stays (PostgreSQL: the
database verify_1m beside the one of CRM_TEST_POSTGRES_URL; SQLite: bench/verify_1m.sqlite3)
and its URL is printed, so that verify alone can be timed on it again and again:

    .venv/bin/python benchmarks/verify.py --reuse URL [--workers 1,2] [--repeat N]

Each repeat times verify once with each number of worker processes in turn (interleaved, as
the machine's speed moves), and prints the wall time, the CPU time of this process and its
workers, and on PostgreSQL that of the database's backends serving them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AS_OF = dt.date(2025, 6, 30)  # the synthetic portfolio's as-of date


def prepare(url: str) -> str:
    """Baseline the loaded portfolio's digests, run a first tier run and seal the trail."""
    from crm import audit, features, record_digests
    from crm.db import Database
    from crm.jobs import recalc

    features.modules(features.FEATURES)  # the features, their subscribers with them
    record_digests.use_secret("benchmark")
    database = Database(url)
    try:
        t = time.perf_counter()
        with database.transaction() as session:
            counts = record_digests.baseline(session)
        baseline = time.perf_counter() - t
        t = time.perf_counter()
        actor = audit.Actor("cli", "benchmark")
        summary = recalc.recalculate(database, recalc.RunRequest(as_of=AS_OF, actor=actor))
        first = time.perf_counter() - t
        audit.seal_pending(database)  # the scheduler seals every second; `crm audit verify` first too
    finally:
        database.dispose()
    return (
        f"baseline {baseline:.0f}s ({sum(counts.values()):,} records), first run {first:.0f}s "
        f"({summary.changed:,} tiers)"
    )


def measure(url: str, workers: int | None = None) -> str:
    """Time verify on the prepared database at ``url`` (as the command runs it)."""
    from sqlalchemy import func, select
    from sqlalchemy.engine import make_url

    from crm import audit, record_digests
    from crm.db import Database
    from crm.models.digests import RecordDigest

    record_digests.use_secret("benchmark")
    database = Database(url)
    backends = _BackendCPU(make_url(url).database) if url.startswith("postgresql") else None
    split = {} if workers is None else {"workers": workers}
    try:
        t, cpu = time.perf_counter(), _cpu()
        with database.session() as session:  # with a progress callback, as the command runs it
            found = record_digests.verify(session, progress=lambda _done, _total, _table: None, **split)
        records, cpu = time.perf_counter() - t, _cpu() - cpu
        db_cpu = backends.stop() if backends else None
        t, trail_cpu = time.perf_counter(), _cpu()
        with database.session() as session:
            trail = audit.verify(session)
        chain, trail_cpu = time.perf_counter() - t, _cpu() - trail_cpu
        with database.session() as session:  # every record has its digest: as many records
            rows = session.scalar(select(func.count()).select_from(RecordDigest))
    finally:
        database.dispose()
    assert not found and trail.ok, (found[:5], trail.problem)
    backend = f" + its database backends' {db_cpu:.1f}s" if db_cpu is not None else ""
    return (
        f"verify {records + chain:.1f}s: records {records:.1f}s ({rows:,}, {rows / records:,.0f}/s; "
        f"CPU of this process and its workers {cpu:.1f}s{backend}), "
        f"trail {chain:.1f}s (CPU {trail_cpu:.1f}s, {trail.checked:,} events)"
    )


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _BackendCPU:
    """CPU seconds of the PostgreSQL backends serving database ``name`` (same machine), from
    /proc, sampled every 0.2 s until stop(): a backend's last 0.2 s may be missed."""

    def __init__(self, name: str):
        self.title, self.seen, self.start = f" {name} ".encode(), {}, None
        self.start = self._sample()
        self.running = True
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _sample(self) -> dict[str, float]:
        tick, found = os.sysconf("SC_CLK_TCK"), {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if self.title not in f.read():
                        continue
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        return found

    def _poll(self) -> None:
        while self.running:
            self.seen.update(self._sample())
            time.sleep(0.2)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        self.seen.update(self._sample())
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.seen.items())


def _kept(kind: str, n: int) -> tuple[str, callable]:
    """A new, migrated database that stays: (url, drop)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from crm.migrate import upgrade

    name = f"verify_{n // 1_000_000}m" if n % 1_000_000 == 0 else f"verify_{n // 1000}k"
    if kind == "sqlite":
        path = ROOT / "bench" / f"{name}.sqlite3"
        path.parent.mkdir(exist_ok=True)
        if path.exists():
            sys.exit(f"{path} exists: remove it first, or time it with --reuse")
        url = f"sqlite:///{path}"
        upgrade(url)
        return url, path.unlink
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))  # a constant name; fails if it exists
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="250000,1000000")
    parser.add_argument("--db", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--keep", action="store_true", help="keep the databases built, and print their URLs")
    parser.add_argument("--reuse", metavar="URL", help="time verify alone on a database built with --keep")
    parser.add_argument("--workers", help="with --reuse: numbers of worker processes to time in turn, e.g. 1,2")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.reuse:
        counts = [int(w) for w in args.workers.split(",")] if args.workers else [None]
        for i in range(args.repeat):
            for workers in counts:
                figures = measure(args.reuse, workers)
                print(f"[{i + 1}] workers {workers or 'default'}: {figures}; load {_load()}", flush=True)
        return
    from benchmarks._portfolio_db import frames, fresh_database, load

    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            data = frames(n)
            for kind in kinds:
                url, drop = _kept(kind, n) if args.keep else fresh_database(kind, tmp, PG_URL)
                try:
                    load(url, data)
                    built = prepare(url)
                except BaseException:
                    drop()
                    raise
                if args.keep:
                    print(f"kept: {url}  (time verify on it: benchmarks/verify.py --reuse {url})", flush=True)
                try:
                    print(f"[{n:,}] {kind}: {built}; {measure(url)}; load {_load()}", flush=True)
                finally:
                    if not args.keep:
                        drop()
            del data


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
