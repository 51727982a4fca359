"""Faults: killed processes, an unreachable database, backup and restore."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from crm import audit
from crm.models import AuditEvent, AuditHead, Customer, ImportBatch, TierRun
from tests.conftest import PASSWORD
from tests.factories import customer_row, write_csv
from tests.partners_helpers import issue, make_customer, make_partner
from tests.template_helpers import seeded

ROOT = Path(__file__).resolve().parent.parent


def _crm(db_url: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "CRM_ENV": "test"}
    return subprocess.Popen(
        [sys.executable, "-m", "crm.cli_main", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _count(database, model) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _wait_for(predicate, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


# Enough rows for the write pass to last a good second (it is polled every 50 ms to be killed in it).
ROWS = 10_000


def test_a_killed_import_leaves_nothing_and_can_be_run_again(db_url, database, tmp_path):
    path = write_csv(tmp_path / "big.csv", [customer_row() for _ in range(ROWS)])
    process = _crm(db_url, "import", "customers", str(path))
    # Kill it while it writes: pass 1 (validation) writes nothing, so wait for pass 2 to begin.
    _wait_for(lambda: _writing(database))
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _count(database, Customer) == 0 and _count(database, ImportBatch) == 0
    with database.session() as s:
        assert audit.verify(s).ok
    again = _crm(db_url, "import", "customers", str(path))
    assert again.wait(timeout=300) == 0, again.stderr.read()
    assert _count(database, Customer) == ROWS


def _writing(database) -> bool:
    """True once another process holds an open write transaction (pass 2 has begun)."""
    if database.dialect == "postgresql":
        with database.engine.connect() as conn:
            return bool(
                conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_locks WHERE relation = 'customers'::regclass AND mode = 'RowExclusiveLock'"
                ).scalar()
            )
    import sqlite3

    conn = sqlite3.connect(database.engine.url.database, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.rollback()
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


# --- a killed redemption ------------------------------------------------------------------

REDEMPTIONS_API = "/api/partners/v1/redemptions"
_KILL_POINT = "KILL-POINT "  # the line a child prints when it has stopped where it is to be killed


def _redeem_child(spec_json: str) -> None:
    """Runs in a child process: POST one redemption through the app's real API (Flask test
    client, real database), stop inside its transaction, report what that transaction holds on
    stdout and sleep until the parent kills it.

    ``at``: "session.commit" stops as the API commits: the claim, the conditional UPDATE and the
    redemption row are written; "driver.commit" stops in the driver's COMMIT itself, after every
    other statement of the transaction (the stored answer, the attempt, the audit event) ran.
    """
    spec = json.loads(spec_json)
    from flask import has_request_context
    from sqlalchemy.orm import Session

    from crm.app import create_app

    armed = {"on": False}

    def stop(query) -> None:
        """Report what the open transaction holds, then wait to be killed. ``query(sql, *args)``
        runs ``sql`` (``%s`` placeholders) on the transaction's own connection: its first row."""
        report = {
            "coupon_status": query("SELECT status FROM coupons WHERE code = %s", spec["code"])[0],
            "redemptions": query("SELECT count(*) FROM redemptions WHERE partner_id = %s", spec["partner_id"])[0],
            "answer_status": (
                query("SELECT status_code FROM idempotency_records WHERE key = %s", spec["idem"]) or (None,)
            )[0],
            "audit_events": query("SELECT count(*) FROM audit_events")[0],
            "pid": query("SELECT pg_backend_pid()")[0] if "postgresql" in spec["db_url"] else None,
        }
        print(_KILL_POINT + json.dumps(report), flush=True)
        time.sleep(600)
        os._exit(3)  # never reached: the parent kills this process

    real_commit = Session.commit

    def commit(session) -> None:
        if not has_request_context():
            return real_commit(session)
        if spec["at"] == "session.commit":
            conn = session.connection()
            sqlite = conn.dialect.name == "sqlite"
            stop(lambda sql, *args: conn.exec_driver_sql(sql.replace("%s", "?") if sqlite else sql, args).first())
        armed["on"] = True
        real_commit(session)

    Session.commit = commit  # the API's view commits its request's session
    if spec["at"] == "driver.commit":
        if "postgresql" in spec["db_url"]:
            import psycopg

            real_pg_commit = psycopg.Connection.commit

            def pg_commit(self):
                if armed["on"]:
                    stop(lambda sql, *args: self.execute(sql, args).fetchone())
                real_pg_commit(self)

            psycopg.Connection.commit = pg_commit
        else:
            import sqlite3

            class Stopping(sqlite3.Connection):
                def commit(self):
                    if armed["on"]:
                        stop(lambda sql, *args: self.execute(sql.replace("%s", "?"), args).fetchone())
                    super().commit()

            real_connect = sqlite3.dbapi2.connect
            sqlite3.dbapi2.connect = lambda *a, **kw: real_connect(*a, factory=Stopping, **kw)

    app = create_app({"env": "test", "database_url": spec["db_url"]})
    response = app.test_client().post(REDEMPTIONS_API, json=spec["body"], headers=spec["headers"])
    print(
        f"not stopped: the redemption answered {response.status_code} {response.get_data(as_text=True)}",
        file=sys.stderr,
        flush=True,
    )
    sys.exit(2)


def _start_redemption(spec: dict) -> subprocess.Popen:
    env = {**os.environ, "CRM_ENV": "test"}
    code = "import sys; from tests.test_faults import _redeem_child; _redeem_child(sys.argv[1])"
    return subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _killed_at_its_point(process, **kw) -> dict:
    """Wait for the child to reach its kill point, SIGKILL it there and reap it: what it reported."""
    try:
        held = _kill_point(process, **kw)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.reader.join(timeout=30)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    return held


def _kill_point(process: subprocess.Popen, timeout: float = 60.0, what: str = "the redemption") -> dict:
    """The child's report once it has stopped at its kill point (it then sleeps)."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        with process.stdout:
            for line in process.stdout:
                lines.put(line)
        lines.put("")  # end of output

    process.reader = threading.Thread(target=read, daemon=True)
    process.reader.start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise AssertionError(f"{what} did not reach its kill point in time") from None
        if not line:  # the child ended without reaching its kill point
            process.wait(timeout=10)
            raise AssertionError(f"{what} never reached its kill point:\n{process.stderr.read()}")
        if line.startswith(_KILL_POINT):
            return json.loads(line[len(_KILL_POINT) :])


def _backend_gone(database, pid: int) -> bool:
    with database.engine.connect() as conn:
        return not conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %(pid)s", {"pid": pid}
        ).scalar()


@pytest.mark.parametrize("kill_at", ["session.commit", "driver.commit"])
def test_a_killed_redemption_leaves_the_coupon_consistent_and_retryable(db_url, database, client, kill_at):
    from partners.models import Coupon, IdempotencyRecord, Redemption, RedemptionAttempt

    partner_id, key = make_partner(database)
    code = issue(database, make_customer(database), partner_id)
    body = {"code": code, "amount": "80.00"}
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"till-7-receipt-{kill_at}"}
    with database.session() as s:
        seq_before = s.scalar(select(AuditHead.seq))
        events_before = s.scalar(select(func.count()).select_from(AuditEvent))

    process = _start_redemption(
        {
            "db_url": db_url,
            "at": kill_at,
            "body": body,
            "headers": headers,
            "code": code,
            "partner_id": partner_id,
            "idem": headers["Idempotency-Key"],
        }
    )
    held = _killed_at_its_point(process)
    # Killed inside the transaction, after the conditional UPDATE and the redemption row …
    assert held["coupon_status"] == "redeemed" and held["redemptions"] == 1, held
    if kill_at == "driver.commit":  # … and, here, after everything but the COMMIT
        assert held["answer_status"] == 201 and held["audit_events"] == events_before + 1, held
    if database.dialect == "postgresql":
        # The server rolls a dead client's transaction back once it sees the socket closed;
        # wait for that rather than let the retry queue behind the killed backend's locks.
        _wait_for(lambda: _backend_gone(database, held["pid"]), timeout=30)

    # Nothing of the killed transaction stands: the coupon, the key and the trail are as before.
    with database.session() as s:
        assert s.scalar(select(Coupon.status).where(Coupon.code == code)) == "issued"
        assert s.scalar(select(func.count()).select_from(Redemption)) == 0
        assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0  # nothing claims the key
        assert s.scalar(select(func.count()).select_from(RedemptionAttempt)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == events_before
        assert s.scalar(select(AuditHead.seq)) == seq_before
        assert audit.verify(s).ok

    # The partner's retry with the same Idempotency-Key redeems it, once.
    retry = client.post(REDEMPTIONS_API, json=body, headers=headers)
    assert retry.status_code == 201, retry.get_data(as_text=True)
    assert "Idempotent-Replayed" not in retry.headers
    first = retry.get_json()
    assert first["code"] == code
    again = client.post(REDEMPTIONS_API, json=body, headers=headers)
    assert again.status_code == 201 and again.get_json() == first
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = client.post(REDEMPTIONS_API, json=body, headers={**headers, "Idempotency-Key": "another-receipt"})
    assert other.status_code == 409 and other.get_json()["error"] == "already_redeemed"
    with database.session() as s:
        assert s.scalar(select(Coupon.status).where(Coupon.code == code)) == "redeemed"
        redemptions = s.execute(select(Redemption.id, Redemption.amount)).all()
        assert [(r.id, f"{r.amount:.2f}") for r in redemptions] == [(first["redemption_id"], "80.00")]
        assert (
            s.scalar(select(IdempotencyRecord.status_code).where(IdempotencyRecord.key == headers["Idempotency-Key"]))
            == 201
        )
        assert audit.verify(s).ok


# --- a killed recalculation ---------------------------------------------------------------

SEED_AS_OF = "2026-11-24"  # the demo portfolio as of this day, and its first run
RECALC_AS_OF = "2028-04-08"  # 500 days on: the run has many changes to write
SCORE_PARTITION = 100  # customers per partition at the "scoring" kill point (several partitions)


def _recalc_child(spec_json: str) -> None:
    """Runs in a child process: `crm tiers recalc --as-of …` through the real command line
    (DATABASE_URL from the environment, as `_crm` runs it), with one function wrapped here
    only, so that the run stops at a known point, reports on stdout and sleeps until the
    parent kills it.

    ``at``: "write_changes" stops right after the real write_changes has sent the run's tier
    rows and history, before its transaction commits (and sends the audit events it holds);
    "scoring" stops as pass 2 begins scoring its second partition (the first is scored, its
    heartbeat committed).
    """
    spec = json.loads(spec_json)
    from crm.jobs import frames, passes, recalc, write

    def stop(conn, **report) -> None:
        """Report what ``conn`` (the connection the run is using there) sees, then wait to be killed."""

        def one(sql: str):
            return conn.exec_driver_sql(sql).scalar()

        report.update(
            history=one("SELECT count(*) FROM tier_history"),
            audit_events=one("SELECT count(*) FROM audit_events"),
            running=one("SELECT count(*) FROM tier_runs WHERE state = 'running' AND active_slot = 1"),
            pid=one("SELECT pg_backend_pid()") if conn.dialect.name == "postgresql" else None,
        )
        print(_KILL_POINT + json.dumps(report), flush=True)
        time.sleep(600)
        os._exit(3)  # never reached: the parent kills this process

    if spec["at"] == "write_changes":
        real_write_changes = write.write_changes

        def write_changes(session, *args, **kw):
            moves = real_write_changes(session, *args, **kw)  # every write of the run is sent …
            stop(session.connection(), moves=moves)  # … and its transaction is still open
            return moves

        # recalc imported the name (from crm.jobs.write import write_changes): wrap both.
        write.write_changes = recalc.write_changes = write_changes
    elif spec["at"] == "scoring":
        real_id_ranges, real_score_range = frames.id_ranges, passes._score_range
        seen = {"ranges": 0, "calls": 0}

        def id_ranges(conn, size):  # several partitions of a small portfolio, not one
            ranges = real_id_ranges(conn, min(size, SCORE_PARTITION))
            seen["ranges"] = len(ranges)
            return ranges

        def score_range(conn, *args, **kw):
            seen["calls"] += 1
            if seen["calls"] == 2:
                stop(conn, **seen)
            return real_score_range(conn, *args, **kw)

        frames.id_ranges, passes._score_range = id_ranges, score_range
    else:
        raise ValueError(spec["at"])

    from crm.cli_main import main

    try:
        main(args=["tiers", "recalc", "--as-of", spec["as_of"]], prog_name="crm")
    except SystemExit as exc:
        print(f"not stopped: the recalculation exited with {exc.code!r}", file=sys.stderr, flush=True)
    except BaseException:
        traceback.print_exc()
        print("not stopped: the recalculation failed", file=sys.stderr, flush=True)
    sys.exit(2)


def _start_recalc(db_url: str, spec: dict) -> subprocess.Popen:
    # One process: the kill points are functions of this one (a run's worker processes would
    # score the partitions where the wrapping does not reach).
    env = {**os.environ, "DATABASE_URL": db_url, "CRM_ENV": "test", "CRM_RECALC_WORKERS": "1"}
    code = "import sys; from tests.test_faults import _recalc_child; _recalc_child(sys.argv[1])"
    return subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _tier_state(database) -> dict:
    from crm.models import CustomerTier, RiskModelRecord, TierHistory

    with database.session() as s:
        return {
            "tiers": sorted(
                s.execute(
                    select(
                        CustomerTier.customer_id,
                        CustomerTier.tier,
                        CustomerTier.reasons,
                        CustomerTier.computed_tier,
                        CustomerTier.value_score,
                        CustomerTier.risk_score,
                        CustomerTier.run_id,
                    )
                ).all()
            ),
            "history": s.scalar(select(func.count()).select_from(TierHistory)),
            "audit_events": s.scalar(select(func.count()).select_from(AuditEvent)),
            "audit_seq": s.scalar(select(AuditHead.seq)),
            "models": s.scalar(select(func.count()).select_from(RiskModelRecord)),
        }


@pytest.mark.parametrize("kill_at", ["write_changes", "scoring"])
def test_a_killed_recalculation_leaves_tiers_as_they_were(db_url, database, kill_at):
    import datetime as dt

    from crm.db import utcnow
    from crm.demo import seed_demo
    from crm.jobs import recalc

    seeded(
        database,
        "demo-300-9",  # publishes a first run
        lambda: seed_demo(database, 300, seed=9, as_of=dt.date.fromisoformat(SEED_AS_OF)),
    )
    before = _tier_state(database)
    assert len(before["tiers"]) == 300
    with database.session() as s:
        runs_before = s.scalar(select(func.count()).select_from(TierRun))

    process = _start_recalc(db_url, {"at": kill_at, "as_of": RECALC_AS_OF})
    held = _killed_at_its_point(process, timeout=120, what="the recalculation")
    assert held["running"] == 1, held  # killed while its run held the slot …
    if kill_at == "write_changes":  # … with the run's changes written in its open transaction
        assert held["moves"] > 0, held
        assert held["history"] > before["history"], held
    else:  # … between two partitions of pass 2, nothing of the run written
        assert held["calls"] == 2 and held["ranges"] >= 3, held
        assert held["history"] == before["history"] and held["audit_events"] == before["audit_events"], held
    if database.dialect == "postgresql":
        # The server rolls a dead client's transaction back once it sees the socket closed:
        # wait for that before looking (and before the rerun would queue behind its locks).
        _wait_for(lambda: _backend_gone(database, held["pid"]), timeout=30)

    # Nothing of the killed run stands: tiers, history, trail and models are exactly as before …
    assert _tier_state(database) == before
    with database.session() as s:
        assert audit.verify(s).ok
        runs = s.scalars(select(TierRun).order_by(TierRun.id)).all()
        assert len(runs) == runs_before + 1
        dead = runs[-1]
        # … but its run is left 'running' and still holds the slot (its heartbeat is recent).
        assert dead.state == "running" and dead.active_slot == 1 and dead.finished_at is None
        dead_id = dead.id
    req = recalc.RunRequest(as_of=dt.date.fromisoformat(RECALC_AS_OF), actor=audit.Actor.cli("tiers"))
    with pytest.raises(recalc.AlreadyRunning):
        recalc.recalculate(database, req)

    # Once its heartbeat is stale, the next run frees the slot (the dead run is recorded failed)
    # and runs to completion.
    with database.transaction() as s:
        s.execute(
            update(TierRun)
            .where(TierRun.id == dead_id)
            .values(heartbeat_at=utcnow() - recalc.STALE_AFTER - dt.timedelta(minutes=1))
        )
    summary = recalc.recalculate(database, req)
    assert summary.customers == 300 and summary.changed > 0
    after = _tier_state(database)
    assert after["tiers"] != before["tiers"] and after["history"] == before["history"] + summary.changed
    with database.session() as s:
        dead = s.get(TierRun, dead_id)
        assert dead.state == "failed" and "abandoned" in dead.error and dead.active_slot is None
        assert dead.finished_at is not None
        done = s.get(TierRun, summary.run_id)
        assert done.state == "completed" and done.active_slot is None and done.changed == summary.changed
        assert s.scalar(select(func.count()).select_from(TierRun).where(TierRun.active_slot == 1)) == 0
        assert audit.verify(s).ok


def test_database_unreachable_pages_and_api_answer_clearly(tmp_path):
    from crm.app import create_app

    app = create_app({"env": "test", "database_url": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"})
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    page = client.post("/login", data={"email": "a@b.cn", "password": PASSWORD})
    assert page.status_code == 503
    assert "database is not reachable" in page.get_data(as_text=True)
    assert 'class="navbar' in page.get_data(as_text=True)
    key = "pk_0123456789ab_" + "x" * 43  # well formed: the key must be looked up
    api = client.get("/api/partners/v1/coupons/ABCDEFGHJKMNPQ", headers={"Authorization": f"Bearer {key}"})
    assert api.status_code == 503 and api.get_json()["error"] == "unavailable"


def test_backup_and_restore_bring_back_the_data_and_a_valid_chain(db_url, database, runner, tmp_path):
    from crm.importer import import_csv

    import_csv(
        database,
        "customers",
        write_csv(tmp_path / "a.csv", [customer_row() for _ in range(20)]),
        audit.Actor("system", "t"),
    )
    target = tmp_path / "backup.dump"
    result = runner.invoke(args=["db", "backup", str(target)])
    assert result.exit_code == 0, result.output
    import_csv(
        database,
        "customers",
        write_csv(tmp_path / "b.csv", [customer_row() for _ in range(5)]),
        audit.Actor("system", "t"),
    )
    assert _count(database, Customer) == 25
    result = runner.invoke(args=["db", "restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert "audit trail intact" in result.output
    assert _count(database, Customer) == 20


def test_restore_refuses_a_file_that_is_not_a_backup(db_url, database, runner, tmp_path):
    from crm.importer import import_csv

    import_csv(
        database,
        "customers",
        write_csv(tmp_path / "a.csv", [customer_row() for _ in range(3)]),
        audit.Actor("system", "t"),
    )
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"this is not a database" * 100)
    result = runner.invoke(args=["db", "restore", str(junk), "--yes"])
    # Refused with the command's own one-line reason (exit 1), not any crash; nothing replaced.
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    kind = "SQLite backup" if database.dialect == "sqlite" else "pg_restore failed"
    assert kind in result.output, result.output
    assert _count(database, Customer) == 3
    with database.session() as s:
        assert audit.verify(s).ok


def test_sqlite_under_concurrent_web_writers_answers_no_lock_error(sqlite_url):
    import threading

    from crm.app import create_app
    from crm.auth.services import create_user
    from tests.conftest import AuthActions

    # 40 failed log-ins from one address: the log-in rate limit is not what this test is about.
    app = create_app({"env": "test", "database_url": sqlite_url, "LOGIN_RATE_LIMIT": "1000 per minute"})
    database = app.extensions["crm_db"]
    with database.transaction() as s:
        for i in range(8):
            create_user(s, audit.Actor("system", "t"), f"u{i}@test.crm", "admin", PASSWORD)
    statuses = []

    def work(i):
        for _ in range(5):  # each log-in writes (last log-in time); wrong ones write failures
            statuses.append(AuthActions(app.test_client()).login(f"u{i}@test.crm").status_code)
            statuses.append(AuthActions(app.test_client()).login(f"u{i}@test.crm", "wrong-password-zz").status_code)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 80 and set(statuses) == {302, 401}
    app.extensions["crm_db"].dispose()
