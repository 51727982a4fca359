"""The scheduler's log, as its operators read it: stamped in the business time zone, and
without APScheduler's lines for every run of every job (the audit sealer runs each second)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from crm import audit
from crm.db import Database
from crm.models.audit import AuditEvent

ROOT = Path(__file__).resolve().parent.parent
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d([+-]\d\d:\d\d) ")


def _sealed_by_the_scheduler(database: Database, proc: subprocess.Popen, entity_id: int) -> None:
    """Record an audit event and wait until the scheduler's sealer (every second) has sealed it."""
    with database.transaction() as session:
        audit.record(session, audit.Actor("system", "tests"), audit.Change("thing.create", "thing", entity_id))
    deadline = time.monotonic() + 60
    while True:
        with database.session() as session:
            if not session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.position.is_(None))):
                return
        assert proc.poll() is None and time.monotonic() < deadline, "the sealer did not run"
        time.sleep(0.05)


def test_the_scheduler_logs_in_the_business_time_zone_and_not_every_job_run(sqlite_template, tmp_path):
    path = tmp_path / "crm.sqlite3"
    shutil.copy(sqlite_template, path)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "CRM_ENV": "test", "CRM_TIMEZONE": "Asia/Shanghai"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crm.cli_main", "scheduler", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        before = []  # what it wrote until its own line saying it started, jobs set
        while not (line := proc.stderr.readline()) or "crm.scheduler INFO started:" not in line:
            assert line and len(before) < 100, before
            before.append(line)
        assert "audit.seal" in line, line
        # Two runs of the sealer: the first's lines are all written before the second starts
        # (one instance at a time), and APScheduler would have logged each of them.
        database = Database(env["DATABASE_URL"])
        try:
            _sealed_by_the_scheduler(database, proc, 1)
            _sealed_by_the_scheduler(database, proc, 2)
        finally:
            database.dispose()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
            raise AssertionError(f"the scheduler did not stop within 15 s of SIGTERM: {err[-2000:]}") from None
    assert proc.returncode == 0, err[-2000:]
    lines = [line for line in [*before, line, *err.splitlines()] if STAMP.match(line)]
    assert lines, err[-2000:]
    assert {STAMP.match(line).group(1) for line in lines} == {"+08:00"}, lines[:5]
    assert not [line for line in lines if "Running job" in line or "executed successfully" in line], lines[:5]
