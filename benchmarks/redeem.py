"""Redemption throughput: the full partner API against a bare endpoint, side by side.

    .venv/bin/python benchmarks/redeem.py [--db sqlite|postgres|both] [--seconds 10] [--rounds 3]
        [--clients 32] [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--ratelimit-storage memory://|redis://127.0.0.1:6379] [--pg-db-prefix crm_bench]

Both sides run under gunicorn with 2 workers (gthread, 16 threads, keep-alive) on 127.0.0.1,
on the same fresh database with the same engine settings (crm.db.make_engine: SQLite in WAL
mode with synchronous=FULL and BEGIN IMMEDIATE; PostgreSQL with its defaults,
synchronous_commit on, so a 201 is on disk on both sides).
- full: POST /api/partners/v1/redemptions — bearer key, per-key rate limit (set high enough
  not to refuse; counted in ``--ratelimit-storage``: by default CRM_RATELIMIT_STORAGE_URI, else
  memory://, each worker counting on its own; production's Redis counts for both workers),
  Idempotency-Key claim and stored answer, conditional UPDATE, INSERT, the records' digests,
  the attempt row and the audit event, one transaction;
- bare: ``bare_app`` below — only the conditional UPDATE and one INSERT, one transaction,
  sent through SQLAlchemy Core on the same engine as the full API sends its own statements
  (so that the two sides differ in the work done, not in how SQL is sent).
The load generator is one process of its own with ``--clients`` keep-alive connections driven
by a selector (no thread per client: on a small machine a threaded Python client takes the
CPU the servers need). Every request redeems a distinct code. The sides take turns for
``--rounds`` rounds of ``--seconds``/``--rounds`` each, so that a change in the machine's
other load during the run falls on both; req/s, p50 and p99 are over all rounds.
Each side's CPU time per request is printed too: its gunicorn processes' and the PostgreSQL
server's (every ``postgres`` process of the machine, while that side alone is loaded). On a
shared machine it moves far less than req/s, and it says where a request's cost lies.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


# --- the bare endpoint (runs inside gunicorn) ------------------------------------------

_engine = None
_UPDATE = (
    "UPDATE coupons SET status = 'redeemed' WHERE code = :code AND status = 'issued' AND expires_on >= :today"
    " RETURNING id, value"
)
_INSERT = (
    "INSERT INTO redemptions (coupon_id, live_coupon_id, partner_id, amount, redeemed_at)"
    " VALUES (:id, :id, 1, :value, :now)"
)


def bare_app(environ, start_response):
    """POST {"code": …}: the conditional UPDATE and one INSERT, nothing else, in one transaction
    of the same engine, through SQLAlchemy as the full API sends its statements."""
    global _engine
    from sqlalchemy import bindparam, text

    from crm.db import UTCDateTime, make_engine, utcnow, writer

    if _engine is None:
        _engine = writer(make_engine(os.environ["BENCH_DATABASE_URL"]))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    code = json.loads(environ["wsgi.input"].read(length))["code"]
    params = {"code": code, "today": dt.date.today()}
    with _engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite, as the API's write session
        row = conn.execute(text(_UPDATE), params).first()
        if row is not None:
            conn.execute(
                text(_INSERT).bindparams(bindparam("now", type_=UTCDateTime())),
                {"id": row[0], "value": row[1], "now": utcnow()},
            )
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
        customer = Customer(
            customer_ref="BENCH1",
            name="压测",
            id_number="110105196001010018",
            birth_date=dt.date(1960, 1, 1),
            gender="M",
            phone="13900000000",
            city="上海",
            source="other",
        )
        session.add(customer)
        session.flush()
        full = [codes.new_code() for _ in range(n_codes)]
        bare = [codes.new_code() for _ in range(n_codes)]
        expires, now = dt.date.today() + dt.timedelta(days=30), utcnow()
        for chunk in range(0, 2 * n_codes, 5000):
            rows = [
                {
                    "code": c,
                    "customer_id": customer.id,
                    "partner_id": 1,
                    "value": 100,
                    "unit_cost": 100,
                    "currency": "CNY",
                    "status": "issued",
                    "issued_at": now,
                    "expires_on": expires,
                }
                for c in (full + bare)[chunk : chunk + 5000]
            ]
            session.execute(insert(Coupon), rows)
    database.dispose()
    return key, full, bare


def serve(app_spec: str, env: dict) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            GUNICORN,
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "16",
            "--keep-alive",
            "30",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app_spec,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"gunicorn did not start: {app_spec}")


# --- load ----------------------------------------------------------------------------


def _requests(path: str, headers: dict, codes: list[str], idem: bool) -> list[bytes]:
    """Every request ready to send, so that the timed loop only sends and reads."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    out = []
    for code in codes:
        body = json.dumps({"code": code}).encode()
        key = f"Idempotency-Key: {uuid.uuid4().hex}\r\n" if idem else ""
        out.append(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}{key}Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
    return out


def _drive(port: int, requests: list[bytes], seconds: float, clients: int, queue) -> None:
    """``clients`` keep-alive connections, each sending its next request when the answer to
    the last one is in; runs in a process of its own and puts (latencies, statuses, elapsed)."""
    sel = selectors.DefaultSelector()
    todo = iter(requests)
    lat, statuses = [], {}
    started = time.perf_counter()
    end = started + seconds

    def send(sock, state):
        request = next(todo, None)
        if request is None or time.perf_counter() >= end:
            sel.unregister(sock)
            sock.close()
            return
        state.update(buf=b"", t0=time.perf_counter())
        sock.sendall(request)

    for _ in range(clients):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state: dict = {}
        sel.register(sock, selectors.EVENT_READ, state)
        send(sock, state)
    while sel.get_map():
        for key, _ in sel.select(timeout=60):
            state = key.data
            chunk = key.fileobj.recv(65536)
            if not chunk:
                raise RuntimeError("the server closed a connection")
            state["buf"] += chunk
            head, sep, body = state["buf"].partition(b"\r\n\r\n")
            if not sep:
                continue
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            if len(body) < length:
                continue
            lat.append(time.perf_counter() - state["t0"])
            status = int(head[9:12])
            statuses[status] = statuses.get(status, 0) + 1
            send(key.fileobj, state)
    queue.put((lat, statuses, time.perf_counter() - started))


def load(port: int, requests: list[bytes], seconds: float, clients: int) -> tuple[list[float], dict, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_drive, args=(port, requests, seconds, clients, queue))
    proc.start()
    # A load process that failed (a server that closed a connection) puts nothing: give up
    # rather than wait for ever.
    result = queue.get(timeout=seconds + 120)
    proc.join()
    return result


def _figures(lat: list[float], statuses: dict, elapsed: float) -> dict:
    lat = sorted(lat)
    return {
        "rps": len(lat) / elapsed,
        "p50": lat[len(lat) // 2] * 1000,
        "p99": lat[int(len(lat) * 0.99)] * 1000,
        "n": len(lat),
        "statuses": statuses,
    }


def _process_ticks() -> dict[int, tuple[int, str, int]]:
    """Every process of the machine: pid -> (parent pid, command name, CPU ticks so far)."""
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    text = stat.read()
            except OSError:
                continue
            name, fields = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()
            out[int(entry.name)] = (int(fields[1]), name, int(fields[11]) + int(fields[12]))  # ppid, utime + stime
    return out


def _cpu_seconds(server_pid: int) -> tuple[float, float]:
    """CPU seconds used so far by a gunicorn server (its master and workers) and by the
    PostgreSQL server's processes (0 without one)."""
    procs, hz = _process_ticks(), os.sysconf("SC_CLK_TCK")
    server = {server_pid} | {pid for pid, (ppid, _name, _ticks) in procs.items() if ppid == server_pid}
    gunicorn = sum(procs[pid][2] for pid in server if pid in procs)
    postgres = sum(ticks for _ppid, name, ticks in procs.values() if name == "postgres")
    return gunicorn / hz, postgres / hz


def run(kind: str, url: str, seconds: float, rounds: int, clients: int, ratelimit_storage: str) -> dict:
    key, full_codes, bare_codes = prepare(url, 40000)
    env = {
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "CRM_ENV": "production",
        "BENCH_DATABASE_URL": url,
        "CRM_RATELIMIT_STORAGE_URI": ratelimit_storage,
        "CRM_RATELIMIT_KEY_PREFIX": "bench-" + uuid.uuid4().hex[:8],  # counts of its own
    }
    config = {"database_url": url, "PARTNER_API_RATE": (1e6, 1000000)}
    sides = {
        "bare": (
            "benchmarks.redeem:bare_app",
            _requests("/", {"Content-Type": "application/json"}, bare_codes, idem=False),
        ),
        "full": (
            f"crm.app:create_app({config!r})",
            _requests(
                "/api/partners/v1/redemptions",
                {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
                full_codes,
                idem=True,
            ),
        ),
    }
    servers, sent, totals, cpu = {}, {}, {}, {}
    try:
        for side, (spec, requests) in sides.items():
            servers[side] = serve(spec, env)
            load(servers[side][1], requests[:400], 1.0, clients)  # warm-up: connections, pools, imports
            sent[side] = 400
        for _ in range(rounds):
            for side, (_spec, requests) in sides.items():
                before = _cpu_seconds(servers[side][0].pid)
                lat, statuses, elapsed = load(servers[side][1], requests[sent[side] :], seconds / rounds, clients)
                used = [a - b for a, b in zip(_cpu_seconds(servers[side][0].pid), before)]
                cpu[side] = [c + u for c, u in zip(cpu.get(side, (0.0, 0.0)), used)]
                sent[side] += len(lat)
                total = totals.setdefault(side, ([], {}, 0.0))
                total[0].extend(lat)
                for status, n in statuses.items():
                    total[1][status] = total[1].get(status, 0) + n
                totals[side] = (total[0], total[1], total[2] + elapsed)
    finally:
        for proc, _port in servers.values():
            proc.terminate()
            proc.wait()
    results = {side: _figures(*totals[side]) for side in sides}
    for side in ("bare", "full"):
        r = results[side]
        r["cpu_us"] = [used * 1e6 / r["n"] for used in cpu[side]]
        print(
            f"{kind:<8} {side:<5} {r['rps']:8.0f} req/s   p50 {r['p50']:7.1f} ms   p99 {r['p99']:7.1f} ms   "
            f"CPU per request: gunicorn {r['cpu_us'][0]:5.0f} µs"
            + (f", postgres {r['cpu_us'][1]:4.0f} µs   " if kind == "postgres" else "   ")
            + f"{r['n']} requests {r['statuses']}"
        )
    ratio_rps = results["full"]["rps"] / results["bare"]["rps"]
    ratio_p99 = results["full"]["p99"] / results["bare"]["p99"]
    print(f"{kind:<8} full/bare: throughput {ratio_rps:.0%} (target ≥ 50%), p99 {ratio_p99:.2f}× (target ≤ 2×)")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0, help="per side, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--ratelimit-storage", default=os.environ.get("CRM_RATELIMIT_STORAGE_URI", "memory://"), help="the limiter's"
    )
    parser.add_argument(
        "--pg-url", default=os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument(
        "--pg-db-prefix", default="crm_bench", help="the scratch database's name: PREFIX_ and a random suffix"
    )
    args = parser.parse_args()
    os.environ.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-bench-"))
    # One secret for the set-up here (the coupons' digests) and the servers, as in one deployment.
    os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex)
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run(
                "sqlite",
                f"sqlite:///{tmp}/bench.sqlite3",
                args.seconds,
                args.rounds,
                args.clients,
                args.ratelimit_storage,
            )
    if args.db in ("postgres", "both"):
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        name = f"{args.pg_db_prefix}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(
                "postgres",
                make_url(args.pg_url).set(database=name).render_as_string(hide_password=False),
                args.seconds,
                args.rounds,
                args.clients,
                args.ratelimit_storage,
            )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
