"""Import N generated customers into a fresh SQLite database (or, with $DATABASE_URL naming a
PostgreSQL server, a fresh scratch database on it), once per run.

Prints rows/s and the importing process's peak memory, with the audit trail on and off
(issue 3: the trail may cost the import at most 20% of its throughput). Each run imports into
an empty database of its own: the second run into the first's database would find every row
there already and only compare them.

    .venv/bin/python benchmarks/import_customers.py [--rows 1000000] [--only-audit-on]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_file(path: Path, rows: int) -> None:
    from crm.validators import make_id_number

    cities = [("110105", "北京"), ("310115", "上海"), ("440106", "广州"), ("440305", "深圳"), ("330106", "杭州")]
    names = "王李张刘陈杨黄赵吴周"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_ref", "name", "id_number", "phone", "city", "source", "referred_by"])
        base = dt.date(1950, 1, 1)
        for i in range(rows):
            region, city = cities[i % 5]
            ident = make_id_number(region, base + dt.timedelta(days=(i // 500) % 20000), i % 500, "MF"[i % 2])
            w.writerow(
                [
                    f"C{i:08d}",
                    names[i % 10] + "小" + names[(i // 10) % 10],
                    ident,
                    f"1{38 + i % 2}{i:08d}",
                    city,
                    "referral" if i and i % 3 == 0 else "cold_visit",
                    f"C{max(0, i - 1 - (i % 7)):08d}" if i and i % 3 == 0 else "",
                ]
            )


def run_import(path: Path, url: str, audit_on: bool) -> dict:
    """Runs in a child process so that its peak memory is the import's alone."""
    import resource

    from crm.audit import Actor
    from crm.db import Database
    from crm.importer import import_csv
    from crm.migrate import upgrade

    upgrade(url)
    database = Database(url)
    start = time.perf_counter()
    summary = import_csv(database, "customers", path, Actor("cli", "benchmark"), audit_on=audit_on)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": summary.rows,
        "seconds": round(seconds, 1),
        "rows_per_s": round(summary.rows / seconds),
        "peak_mb": round(peak_mb),
    }


@contextlib.contextmanager
def _empty_database(tmp: str, audit_on: bool):
    """The URL of an empty database for one run: a SQLite file, or a scratch database on the
    PostgreSQL server of $DATABASE_URL (dropped afterwards)."""
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith("postgresql"):
        yield f"sqlite:///{tmp}/bench-{int(audit_on)}.sqlite3"
        return
    from benchmarks._portfolio_db import new_pg_database

    url, drop = new_pg_database(server)
    try:
        yield url
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only-audit-on", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, url, audit_on = args.child
        print(json.dumps(run_import(Path(path), url, audit_on == "1")))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.csv"
        t = time.perf_counter()
        make_file(path, args.rows)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s")
        results = {}
        for audit_on in [True] if args.only_audit_on else [True, False]:
            with _empty_database(tmp, audit_on) as url:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(path), url, str(int(audit_on))],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
            if out.returncode:
                sys.exit(f"import failed:\n{out.stderr[-3000:]}")
            results[audit_on] = json.loads(out.stdout.strip().splitlines()[-1])
            r = results[audit_on]
            print(
                f"audit {'on ' if audit_on else 'off'}: {r['rows']:,} rows in {r['seconds']}s = "
                f"{r['rows_per_s']:,} rows/s, peak memory {r['peak_mb']} MB"
            )
        if len(results) == 2:
            cost = 1 - results[True]["rows_per_s"] / results[False]["rows_per_s"]
            print(f"audit trail costs {cost:.0%} of import throughput (target: at most 20%)")


if __name__ == "__main__":
    main()
