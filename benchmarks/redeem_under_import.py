"""Redemption latency while a large customer import runs as an import job.

    .venv/bin/python benchmarks/redeem_under_import.py [--db postgres|sqlite] [--rows 1000000]
        [--rate 20] [--clients 4] [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

The partner API is served by gunicorn (2 workers, gthread) on a fresh database; a paced load
(``--rate`` redemptions a second over ``--clients`` keep-alive connections, each of a distinct
code, as partners' tills send them) runs first alone for 10 s (the baseline), then while an
import job of ``--rows`` generated customers runs in a process of its own, as the scheduler
runs it (crm.imports.services.run_next). Prints p50, p99 and the worst latency and the
answers (201, 503) of each period, the import's split in phases (validating: no lock held;
importing: one transaction) and their duration.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.import_customers import make_file  # noqa: E402
from benchmarks.redeem import prepare, serve  # noqa: E402


def run_import_job(url: str, csv_path: str, upload_dir: str) -> None:
    """The child: queue the file as the upload page does, then run it as the scheduler does."""
    from crm.audit import Actor
    from crm.db import Database
    from crm.imports import services as imports

    database = Database(url)
    with open(csv_path, "rb") as f:
        upload = imports.store_upload(f, Path(upload_dir), 1 << 40)
    with database.transaction() as session:
        job_id = imports.queue_import(session, Actor("cli", "bench"), "customers", "bench.csv", upload).id
    print(json.dumps({"job": job_id}), flush=True)
    job = imports.run_next(database, Path(upload_dir))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        json.dumps(
            {"state": job.state, "rows": job.rows, "error": job.error, "problems": job.problems, "peak_mb": peak_mb}
        ),
        flush=True,
    )


class Load:
    """Paced redemptions over keep-alive connections: (sent at, seconds, status) per request."""

    def __init__(self, port: int, key: str, codes: list[str], rate: float, clients: int):
        self.port, self.key, self.codes, self.rate, self.clients = port, key, iter(codes), rate, clients
        self.results: list[tuple[float, float, int]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def _client(self, index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        period = self.clients / self.rate
        due = time.monotonic() + index / self.rate
        while not self.stop.is_set():
            time.sleep(max(0.0, due - time.monotonic()))
            due += period
            with self.lock:
                code = next(self.codes, None)
            if code is None:
                return
            body = json.dumps({"code": code})
            sent = time.monotonic()
            try:
                conn.request(
                    "POST",
                    "/api/partners/v1/redemptions",
                    body,
                    {
                        "Content-Type": "application/json",
                        "Authorization": f"Bearer {self.key}",
                        "Idempotency-Key": uuid.uuid4().hex,
                    },
                )
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                status = 0
            with self.lock:
                self.results.append((sent, time.monotonic() - sent, status))

    def run_while(self, done) -> list[tuple[float, float, int]]:
        self.results = []
        self.stop.clear()
        threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.clients)]
        for t in threads:
            t.start()
        done()
        self.stop.set()
        for t in threads:
            t.join()
        return self.results


def figures(results: list[tuple[float, float, int]]) -> str:
    if not results:
        return "no requests"
    lat = sorted(r[1] for r in results)
    statuses: dict = {}
    for r in results:
        statuses[r[2]] = statuses.get(r[2], 0) + 1
    p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1000  # noqa: E731
    return (
        f"{len(lat):6d} requests  p50 {p(0.5):8.1f} ms  p99 {p(0.99):8.1f} ms  max {lat[-1] * 1000:8.1f} ms  "
        f"answers {dict(sorted(statuses.items()))}"
    )


def bench(kind: str, url: str, rows: int, rate: float, clients: int) -> None:
    from sqlalchemy import create_engine, text

    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-import-"))
    csv_path = tmp / "customers.csv"
    t = time.perf_counter()
    make_file(csv_path, rows)
    print(
        f"{kind}: generated {rows:,} customers ({csv_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s"
    )
    key, codes, _ = prepare(url, 60_000)
    env = {"SECRET_KEY": "bench-" + uuid.uuid4().hex, "CRM_ENV": "production", "CRM_INSTANCE_DIR": str(tmp)}
    config = {"database_url": url, "PARTNER_API_RATE": (1e6, 1000000)}
    server, port = serve(f"crm.app:create_app({config!r})", env)
    engine = create_engine(url)
    try:
        load = Load(port, key, codes, rate, clients)
        load.run_while(lambda: time.sleep(2))  # warm-up
        print(f"{kind} baseline        {figures(load.run_while(lambda: time.sleep(10)))}")

        child = subprocess.Popen(
            [sys.executable, __file__, "--child", url, str(csv_path), str(tmp / "uploads")],
            cwd=ROOT,
            env={**os.environ, "CRM_ENV": "production", "SECRET_KEY": "x" * 32},
            stdout=subprocess.PIPE,
            text=True,
        )
        job_id = json.loads(child.stdout.readline())["job"]
        phases: list[tuple[float, str]] = []

        def until_done() -> None:
            while child.poll() is None:
                with engine.connect() as conn:
                    state, phase = conn.execute(
                        text("SELECT state, phase FROM import_jobs WHERE id = :id"), {"id": job_id}
                    ).one()
                label = phase if state == "running" else state
                if not phases or phases[-1][1] != label:
                    phases.append((time.monotonic(), label))
                time.sleep(0.2)
            phases.append((time.monotonic(), "done"))

        during = load.run_while(until_done)
        outcome = json.loads(child.stdout.readline())
        child.wait()
        print(
            f"{kind} import job {job_id}: {outcome['state']} ({outcome['rows']} rows, the job's process at most "
            f"{outcome['peak_mb']} MB) {outcome['error'] or ''}"
        )
        print(f"{kind} during import   {figures(during)}")
        for (start, label), (end, _) in zip(phases, phases[1:]):
            inside = [r for r in during if start <= r[0] < end]
            print(f"{kind}   {label:<12} {end - start:6.1f} s  {figures(inside)}")
    finally:
        server.terminate()
        server.wait()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=20.0, help="redemptions a second, over all clients")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--pg-url", default=os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_import_job(*args.child)
        return
    os.environ.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-bench-"))
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            bench("sqlite", f"sqlite:///{tmp}/bench.sqlite3", args.rows, args.rate, args.clients)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        bench(
            "postgres",
            make_url(args.pg_url).set(database=name).render_as_string(hide_password=False),
            args.rows,
            args.rate,
            args.clients,
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
