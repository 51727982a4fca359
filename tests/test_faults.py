"""Faults: killed processes, an unreachable database, backup and restore."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm import audit
from crm.models import Customer, ImportBatch, TierRun
from tests.conftest import PASSWORD
from tests.factories import customer_row, write_csv

ROOT = Path(__file__).resolve().parent.parent


def _crm(db_url: str, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "CRM_ENV": "test"}
    return subprocess.Popen([sys.executable, "-m", "crm.cli_main", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


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


def test_a_killed_import_leaves_nothing_and_can_be_run_again(db_url, database, tmp_path):
    path = write_csv(tmp_path / "big.csv", [customer_row() for _ in range(40_000)])
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
    assert _count(database, Customer) == 40_000


def _writing(database) -> bool:
    """True once another process holds an open write transaction (pass 2 has begun)."""
    if database.dialect == "postgresql":
        with database.engine.connect() as conn:
            return bool(conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE relation = 'customers'::regclass AND mode = 'RowExclusiveLock'"
            ).scalar())
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


def test_a_killed_recalculation_leaves_tiers_as_they_were(db_url, database, tmp_path):
    from crm.demo import seed_demo
    from crm.models import CustomerTier

    seed_demo(database, 300, seed=9)
    with database.session() as s:
        before = sorted((t.customer_id, t.tier, t.reasons) for t in s.scalars(select(CustomerTier)))
    process = _crm(db_url, "tiers", "recalc", "--as-of", "2030-01-01")
    _wait_for(lambda: _running_run(database))
    process.send_signal(signal.SIGKILL)
    process.wait()
    with database.session() as s:
        after = sorted((t.customer_id, t.tier, t.reasons) for t in s.scalars(select(CustomerTier)))
        assert after == before
        assert audit.verify(s).ok


def _running_run(database) -> bool:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(TierRun).where(TierRun.state == "running")) > 0


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

    import_csv(database, "customers", write_csv(tmp_path / "a.csv", [customer_row() for _ in range(20)]),
               audit.Actor("system", "t"))
    target = tmp_path / "backup.dump"
    result = runner.invoke(args=["db", "backup", str(target)])
    assert result.exit_code == 0, result.output
    import_csv(database, "customers", write_csv(tmp_path / "b.csv", [customer_row() for _ in range(5)]),
               audit.Actor("system", "t"))
    assert _count(database, Customer) == 25
    result = runner.invoke(args=["db", "restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert "audit trail intact" in result.output
    assert _count(database, Customer) == 20


def test_restore_refuses_a_file_that_is_not_a_backup(db_url, runner, tmp_path):
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"this is not a database" * 100)
    result = runner.invoke(args=["db", "restore", str(junk), "--yes"])
    assert result.exit_code != 0


def test_sqlite_under_concurrent_web_writers_answers_no_lock_error(sqlite_url):
    import threading

    from crm.app import create_app
    from crm.auth.services import create_user
    from tests.conftest import AuthActions

    app = create_app({"env": "test", "database_url": sqlite_url})
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
