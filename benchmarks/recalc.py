"""Full tier recalculation against a bare GROUP BY pass, at several portfolio sizes.

For each size: a fresh database with N customers, ~2N policies and ~3N claims; then, in a
child process (so that its peak memory is the run's alone): the bare GROUP BY pass over the
three tables, and four recalculations, each reading everyone, computing the features,
scoring and tiering them, and writing what changed with its history:
- first: the first run on an empty tier table: the model is fitted and everyone is written
  (a million customers: a million tier rows; the history keeps only states left behind);
- nightly: the next day's scheduled run, the model reused (29 nights out of 30): it writes
  the customers whose tier, reasons or a score in whole points changed;
- refit: the day after, the model refitted (the night of the month that refits it): the
  customers whose published risk score the new model moves by a point are written, with the
  state each leaves in the history (about a fifth of them; a new kind of model, or a data
  shift, can move everyone: then it costs what the first run costs, plus the history);
- rerun: the same day again with no data changes: it writes nothing.
Each run's moves are then delivered to the subscribers, as the command line and the
scheduler do, after the run has committed (crm.jobs.moves): the first run's moves grant 76,585 new
VIPs their benefits (at 1M). A run's time is the recalculation's (its ratio is the one the
target is about); the delivery's is printed beside it ("then delivered in"), and the ratio of
both together in the medians.
Peak memory is that of the run's processes together (this one and its workers).
With --repeat N, each size and database is measured N times, each time on a fresh copy of
the loaded database, and the medians are printed too: on a shared machine, whose speed can
move by a third within minutes, one run's ratio to its own GROUP BY says little.

    .venv/bin/python benchmarks/recalc.py [--sizes 250000,1000000,3000000] [--db sqlite|postgres|both]
                                          [--repeat N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AS_OF = dt.date(2025, 6, 30)  # the synthetic portfolio's as-of date
GROUP_BY = (
    "SELECT customer_id, COUNT(*), SUM(annual_premium) FROM policies GROUP BY customer_id",
    "SELECT customer_id, COUNT(*), SUM(paid_amount + reserve_amount) FROM claims GROUP BY customer_id",
    "SELECT city, COUNT(*) FROM customers GROUP BY city",
)


def child(url: str) -> dict:
    from sqlalchemy import text

    from crm import audit, features, record_digests
    from crm.db import Database
    from crm.jobs import recalc

    features.modules(features.FEATURES)  # their subscribers with them, as in `crm tiers recalc`
    record_digests.use_secret("benchmark")  # the app sets it from SECRET_KEY
    delivery = _DeliveryTime()
    database = Database(url)
    t = time.perf_counter()
    with database.engine.connect() as conn:
        for sql in GROUP_BY:
            for _row in conn.execute(text(sql)):  # every row fetched, none kept
                pass
    group_by = time.perf_counter() - t
    _reset_peak()  # the peak reported is the recalculation's
    sampler = _TreePeak()
    sampler.start()
    actor = audit.Actor("cli", "benchmark")
    out = {"group_by_s": group_by}
    for name, req in (
        ("first", recalc.RunRequest(as_of=AS_OF, actor=actor)),
        ("nightly", recalc.RunRequest(as_of=AS_OF + dt.timedelta(days=1), actor=actor)),
        ("refit", recalc.RunRequest(as_of=AS_OF + dt.timedelta(days=2), actor=actor, refit_after_days=0)),
        ("rerun", recalc.RunRequest(as_of=AS_OF + dt.timedelta(days=2), actor=actor)),
    ):
        delivery.seconds = 0.0
        t = time.perf_counter()
        summary = recalc.recalculate(database, req)
        out[f"{name}_s"] = time.perf_counter() - t - delivery.seconds
        out[f"{name}_changed"], out[f"{name}_delivery_s"] = summary.changed, delivery.seconds
        out.setdefault("counts", summary.counts)
        out["workers"] = summary.workers
    sampler.stop.set()
    sampler.join()
    out["customers"] = summary.customers
    out["peak_mb"] = max(sampler.peak_kb / 1024, _peak_mb())
    return out


class _DeliveryTime:
    """The time a run's moves take to reach the subscribers after its commit (benefits granted
    to new VIPs, stopped for those who left: a first run makes 76,585 VIPs at 1M)."""

    def __init__(self):
        from crm.jobs import moves

        self.seconds, deliver = 0.0, moves.deliver

        def timed(database):
            t = time.perf_counter()
            try:
                return deliver(database)
            finally:
                self.seconds += time.perf_counter() - t

        moves.deliver = timed


class _TreePeak(threading.Thread):
    """The largest total resident memory of this process and its descendants (the run's
    worker processes), sampled every 50 ms."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.peak_kb = threading.Event(), 0

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(os.getpid()))


def _tree_rss_kb(root: int) -> int:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def _reset_peak() -> None:
    """Start VmHWM again from the current size (Linux 4.0+; elsewhere the peak includes the GROUP BY)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def _peak_mb() -> float:
    """This process's peak resident memory. Not getrusage's ru_maxrss: on Linux it keeps the
    high-water mark of the forked parent (which holds the generated portfolio) across exec."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


RUNS = ("first", "nightly", "refit", "rerun")


def _measure(copy: tuple[str, callable]) -> dict:
    """The child's figures on the database at copy[0] (dropped afterwards)."""
    url, drop = copy
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", url],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    finally:
        drop()
    if out.returncode:
        sys.exit(f"run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _line(r: dict, n: int) -> str:
    g = r["group_by_s"]
    return (
        f"GROUP BY {g:.1f}s | "
        + " | ".join(
            f"{name} {r[f'{name}_s']:.1f}s ({r[f'{name}_s'] / g:.1f}x; {r[f'{name}_s'] / n * 1e5:.2f}s per 100k; "
            f"{r[f'{name}_changed']:,} written; then delivered in {r[f'{name}_delivery_s']:.1f}s)"
            for name in RUNS
        )
        + f" | {r['workers']} processes, peak {r['peak_mb']:.0f} MB together | tiers {r['counts']}"
    )


def _medians(runs: list[dict]) -> str:
    """Each run's median time and median ratio to its own GROUP BY (the GROUP BY and the run
    slow down alike only when measured side by side), and with the delivery of its moves."""

    def median(f) -> float:
        return statistics.median(f(r) for r in runs)

    def delivered(name: str) -> str:
        if median(lambda r: r[f"{name}_delivery_s"]) < 0.05:
            return ""
        return (
            f"; with the delivery after it {median(lambda r: r[f'{name}_s'] + r[f'{name}_delivery_s']):.1f}s, "
            f"{median(lambda r, name=name: (r[f'{name}_s'] + r[f'{name}_delivery_s']) / r['group_by_s']):.1f}x"
        )

    return (
        f"GROUP BY {median(lambda r: r['group_by_s']):.1f}s | "
        + " | ".join(
            f"{name} {median(lambda r, name=name: r[f'{name}_s']):.1f}s "
            f"({median(lambda r, name=name: r[f'{name}_s'] / r['group_by_s']):.1f}x"
            f"{delivered(name)})"
            for name in RUNS
        )
        + f" | peak {median(lambda r: r['peak_mb']):.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="250000,1000000,3000000")
    parser.add_argument("--db", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--repeat", type=int, default=1, help="measurements per size and database (medians)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    from benchmarks._portfolio_db import copy_database, frames, fresh_database, load

    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            t = time.perf_counter()
            data = frames(n)
            print(
                f"[{n:,}] generated {len(data['customers']):,} customers, {len(data['policies']):,} policies, "
                f"{len(data['claims']):,} claims in {time.perf_counter() - t:.0f}s",
                flush=True,
            )
            for kind in kinds:
                url, drop = fresh_database(kind, tmp, PG_URL)
                try:
                    t = time.perf_counter()
                    load(url, data)
                    print(f"[{n:,}] {kind}: loaded in {time.perf_counter() - t:.0f}s", flush=True)
                    # Each measurement on a fresh copy, the loaded database kept as it was.
                    runs = (
                        [_measure(copy_database(kind, url, tmp, PG_URL)) for _ in range(args.repeat)]
                        if args.repeat > 1
                        else [_measure((url, lambda: None))]
                    )
                finally:
                    drop()
                for i, r in enumerate(runs):
                    print(f"[{n:,}] {kind}: " + (f"#{i + 1} " if len(runs) > 1 else "") + _line(r, n), flush=True)
                if len(runs) > 1:
                    print(f"[{n:,}] {kind}: median of {len(runs)}: " + _medians(runs), flush=True)
                results[(kind, n)] = {"peak_mb": statistics.median(r["peak_mb"] for r in runs)}
            del data
    for kind in kinds:
        done = sorted(n for k, n in results if k == kind)
        if 1_000_000 in done and 3_000_000 in done:
            growth = results[(kind, 3_000_000)]["peak_mb"] / results[(kind, 1_000_000)]["peak_mb"] - 1
            print(f"{kind}: peak memory at 3M is {growth:+.0%} of that at 1M (target within 25%)")


if __name__ == "__main__":
    main()
