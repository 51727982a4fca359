"""A killed recalculation no longer blocks new runs for 10 minutes (issue 19, item 14): its
process beats every few seconds from a thread, and a run whose last beat is older than the
stale window is taken for dead. A live run, however long one of its steps, is never taken
over. Both on a run in another process, on both databases, with a short window."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from crm import audit
from crm.demo import seed_demo
from crm.jobs import recalc
from crm.models import TierRun
from tests.template_helpers import seeded

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 24)
WINDOW = dt.timedelta(seconds=1)  # beats every 1/12 s (crm.jobs.heartbeat.interval)
READY = "RUN-STARTED "


def _child(spec_json: str) -> None:
    """In a child process: a run of the tiers that, once started, spends ``pause`` seconds in
    one step (its main thread busy, as in a long statement), then finishes."""
    spec = json.loads(spec_json)
    from crm import features
    from crm.db import Database

    features.modules(features.FEATURES)  # and their subscribers, as the command line has them
    database = Database(os.environ["DATABASE_URL"])
    told = []

    def progress(percent: int, phase: str) -> None:
        if not told:
            told.append(phase)
            print(READY + phase, flush=True)
            time.sleep(spec["pause"])

    req = recalc.RunRequest(
        as_of=dt.date.fromisoformat(spec["as_of"]),
        actor=audit.Actor.cli("tiers"),
        workers=1,
        stale_after=dt.timedelta(seconds=spec["window"]),
        progress=progress,
    )
    summary = recalc.recalculate(database, req)
    print(f"DONE {summary.run_id}", flush=True)


def _start(db_url: str, pause: float) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "CRM_ENV": "test"}
    spec = {"as_of": str(AS_OF + dt.timedelta(days=300)), "window": WINDOW.total_seconds(), "pause": pause}
    code = "import sys; from tests.test_run_heartbeat import _child; _child(sys.argv[1])"
    return subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until_started(process: subprocess.Popen) -> None:
    line = process.stdout.readline()  # blocks until the child's run is under way
    assert line.startswith(READY), (line, process.stderr.read() if process.poll() is not None else "")


def _req() -> recalc.RunRequest:
    return recalc.RunRequest(
        as_of=AS_OF + dt.timedelta(days=300), actor=audit.Actor("system", "tests"), workers=1, stale_after=WINDOW
    )


def _runs(database) -> list[TierRun]:
    with database.session() as s:
        return list(s.scalars(select(TierRun).order_by(TierRun.id)))


@pytest.fixture
def portfolio(database):
    return seeded(database, "demo-200-5", lambda: seed_demo(database, 200, seed=5, as_of=AS_OF))


def test_a_run_killed_mid_run_is_taken_for_dead_within_the_window(db_url, portfolio):
    process = _start(db_url, pause=600)
    try:
        _wait_until_started(process)
        time.sleep(WINDOW.total_seconds())  # it beats meanwhile: a window long, still alive
        with pytest.raises(recalc.AlreadyRunning):
            recalc.claim_slot(portfolio, _req())
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    killed_at = time.monotonic()
    dead = _runs(portfolio)[-1]
    assert dead.state == "running" and dead.active_slot == 1

    while True:  # a new run is refused until the dead one's last beat is a window old …
        try:
            summary = recalc.recalculate(portfolio, _req())
            break
        except recalc.AlreadyRunning:
            assert time.monotonic() - killed_at < WINDOW.total_seconds() + 5, "the dead run still blocks"
            time.sleep(0.2)
    # … then it is accepted at once, and the dead run is recorded failed.
    assert summary.customers == 200
    runs = {r.id: r for r in _runs(portfolio)}
    assert runs[dead.id].state == "failed" and "abandoned" in runs[dead.id].error
    assert runs[dead.id].active_slot is None
    assert runs[summary.run_id].state == "completed"


def test_a_live_run_with_a_step_longer_than_the_window_is_never_taken_over(db_url, portfolio):
    pause = 3 * WINDOW.total_seconds()
    process = _start(db_url, pause=pause)
    try:
        _wait_until_started(process)
        ends = time.monotonic() + pause - 0.5
        tries = 0
        while time.monotonic() < ends:  # all through its long step, the run keeps its slot
            with pytest.raises(recalc.AlreadyRunning):
                recalc.claim_slot(portfolio, _req())
            tries += 1
            time.sleep(0.1)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 0, err[-2000:]
    assert tries >= 10
    runs = _runs(portfolio)
    assert [r.state for r in runs[-1:]] == ["completed"] and out.startswith("DONE")
    assert not [r for r in runs if r.state == "failed"]
