"""Redemption throughput: the full partner API against a bare endpoint, side by side.

    .venv/bin/python benchmarks/redeem.py [--db sqlite|postgres|both] [--seconds 10] [--clients 32]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Both sides run under gunicorn with 2 workers (gthread, keep-alive) on 127.0.0.1, on the same
fresh database with the same engine settings (crm.db.make_engine: SQLite in WAL mode with
synchronous=FULL and BEGIN IMMEDIATE; PostgreSQL with its defaults, synchronous_commit on).
- full: POST /api/partners/v1/redemptions — bearer key, per-key rate limit (set high enough
  not to refuse), Idempotency-Key claim and stored answer, conditional UPDATE, INSERT, the
  attempt row and the audit event, one transaction;
- bare: ``bare_app`` below — only the conditional UPDATE and one INSERT, one transaction.
A load generator in other processes (4 × 8 threads = 32 clients, http.client keep-alive)
redeems distinct codes for a bounded time per side and prints req/s, p50, p99 and the ratios.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PROCESSES, THREADS = 4, 8


# --- the bare endpoint (runs inside gunicorn) ------------------------------------------

_engine = None


def bare_app(environ, start_response):
    """POST {"code": …}: the conditional UPDATE and one INSERT, nothing else."""
    global _engine
    from sqlalchemy import text

    from crm.db import make_engine, utcnow, writer

    if _engine is None:
        _engine = writer(make_engine(os.environ["BENCH_DATABASE_URL"]))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    code = json.loads(environ["wsgi.input"].read(length))["code"]
    now = utcnow()
    with _engine.begin() as conn:
        row = conn.execute(text("UPDATE coupons SET status = 'redeemed' WHERE code = :c AND status = 'issued' "
                                "AND expires_on >= :today RETURNING id, value"),
                           {"c": code, "today": dt.date.today()}).first()
        if row is not None:
            conn.execute(text("INSERT INTO redemptions (coupon_id, live_coupon_id, partner_id, amount, redeemed_at) "
                              "VALUES (:id, :id, 1, :v, :t)"),
                         {"id": row.id, "v": row.value, "t": now if _engine.dialect.name != "sqlite"
                          else now.replace(tzinfo=None)})
    status = "201 Created" if row is not None else "409 Conflict"
    body = json.dumps({"code": code}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


# --- set-up --------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url: str, n_codes: int) -> tuple[str, list[str], list[str]]:
    """Migrate, create a partner (its key) and a customer, and 2 × n_codes issued coupons."""
    from sqlalchemy import insert

    from crm.audit import Actor
    from crm.db import Database, utcnow
    from crm.migrate import upgrade
    from crm.models import Customer
    from partners import codes, services
    from partners.models import Coupon

    upgrade(url)
    database = Database(url)
    with database.transaction() as session:
        _partner, key = services.create_partner(session, Actor("cli", "bench"), "压测商户", "dining")
        customer = Customer(customer_ref="BENCH1", name="压测", id_number="110105196001010018",
                            birth_date=dt.date(1960, 1, 1), gender="M", phone="13900000000", city="上海",
                            source="other")
        session.add(customer)
        session.flush()
        full = [codes.new_code() for _ in range(n_codes)]
        bare = [codes.new_code() for _ in range(n_codes)]
        expires, now = dt.date.today() + dt.timedelta(days=30), utcnow()
        for chunk in range(0, 2 * n_codes, 5000):
            rows = [{"code": c, "customer_id": customer.id, "partner_id": 1, "value": 100, "unit_cost": 100,
                     "currency": "CNY", "status": "issued", "issued_at": now, "expires_on": expires}
                    for c in (full + bare)[chunk:chunk + 5000]]
            session.execute(insert(Coupon), rows)
    database.dispose()
    return key, full, bare


def serve(app_spec: str, env: dict) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen([GUNICORN, "-w", "2", "-k", "gthread", "--threads", "16", "--keep-alive", "30",
                             "-b", f"127.0.0.1:{port}", "--log-level", "warning", app_spec],
                            cwd=ROOT, env={**os.environ, **env})
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"gunicorn did not start: {app_spec}")


# --- load ----------------------------------------------------------------------------

def _client(port, path, headers, codes, seconds, out, idem):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    lat, statuses = [], {}
    end = time.perf_counter() + seconds
    for code in codes:
        if time.perf_counter() >= end:
            break
        h = dict(headers)
        if idem:
            h["Idempotency-Key"] = uuid.uuid4().hex
        t0 = time.perf_counter()
        conn.request("POST", path, body=json.dumps({"code": code}), headers=h)
        response = conn.getresponse()
        response.read()
        lat.append(time.perf_counter() - t0)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    conn.close()
    out.append((lat, statuses))


def _process(port, path, headers, codes, seconds, idem, queue):
    out, per = [], len(codes) // THREADS
    started = time.perf_counter()
    threads = [threading.Thread(target=_client, args=(port, path, headers, codes[i * per:(i + 1) * per], seconds,
                                                      out, idem)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(([x for lat, _ in out for x in lat], [s for _, s in out], time.perf_counter() - started))


def load(port: int, path: str, headers: dict, codes: list[str], seconds: float, idem: bool) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue, per = ctx.Queue(), len(codes) // PROCESSES
    procs = [ctx.Process(target=_process, args=(port, path, headers, codes[i * per:(i + 1) * per], seconds, idem,
                                                queue)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    elapsed = max(r[2] for r in results)  # the clients' own time, without process start-up
    for p in procs:
        p.join()
    lat = sorted(x for r in results for x in r[0])
    statuses: dict = {}
    for r in results:
        for s in r[1]:
            for k, v in s.items():
                statuses[k] = statuses.get(k, 0) + v
    return {"rps": len(lat) / elapsed, "p50": lat[len(lat) // 2] * 1000, "p99": lat[int(len(lat) * 0.99)] * 1000,
            "n": len(lat), "statuses": statuses}


def run(kind: str, url: str, seconds: float) -> dict:
    key, full_codes, bare_codes = prepare(url, 40000)
    env = {"SECRET_KEY": "bench-" + uuid.uuid4().hex, "CRM_ENV": "production", "BENCH_DATABASE_URL": url}
    config = {"database_url": url, "PARTNER_API_RATE": (1e6, 1000000)}
    results = {}
    for side, spec, path, headers, codes, idem in (
            ("bare", "benchmarks.redeem:bare_app", "/", {"Content-Type": "application/json"}, bare_codes, False),
            ("full", f"crm.app:create_app({config!r})", "/api/partners/v1/redemptions",
             {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}, full_codes, True)):
        proc, port = serve(spec, env)
        try:
            load(port, path, headers, codes[:400], 1.0, idem)  # warm-up: connections, pools, imports
            results[side] = load(port, path, headers, codes[400:], seconds, idem)
        finally:
            proc.terminate()
            proc.wait()
    for side in ("bare", "full"):
        r = results[side]
        print(f"{kind:<8} {side:<5} {r['rps']:8.0f} req/s   p50 {r['p50']:7.1f} ms   p99 {r['p99']:7.1f} ms   "
              f"{r['n']} requests {r['statuses']}")
    ratio_rps = results["full"]["rps"] / results["bare"]["rps"]
    ratio_p99 = results["full"]["p99"] / results["bare"]["p99"]
    print(f"{kind:<8} full/bare: throughput {ratio_rps:.0%} (target ≥ 50%), p99 {ratio_p99:.2f}× (target ≤ 2×)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pg-url", default=os.environ.get("CRM_TEST_POSTGRES_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    os.environ.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-bench-"))
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", f"sqlite:///{tmp}/bench.sqlite3", args.seconds)
    if args.db in ("postgres", "both"):
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        name = f"crm_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run("postgres", make_url(args.pg_url).set(database=name).render_as_string(hide_password=False),
                args.seconds)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
