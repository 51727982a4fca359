"""Fenced runs (issue 23): a run taken for dead while it was only paused cannot publish over
the run that took its slot, and the tier moves are never marked delivered in a process that
has no subscriber to deliver them to. On both databases."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm import audit
from crm.db import utcnow
from crm.demo_data import generate_portfolio
from crm.importer import import_csv
from crm.jobs import moves, recalc
from crm.models import CustomerTier, TierRun
from crm.models.benefits import EntitlementEntry
from tests.template_helpers import seeded

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 24)
LATER = AS_OF + dt.timedelta(days=400)  # a year on: other tiers than as of AS_OF
ACTOR = audit.Actor("system", "tests")
N = 150  # customers


def _req(as_of: dt.date, **kw) -> recalc.RunRequest:
    return recalc.RunRequest(as_of=as_of, actor=ACTOR, workers=1, **kw)


@pytest.fixture
def portfolio(database, tmp_path):
    """Customers, policies and claims, imported; no tiers yet (imported once per worker)."""

    def load() -> None:
        data = generate_portfolio(N, 3, AS_OF, [])
        for kind in ("customers", "policies", "claims"):
            getattr(data, kind).to_csv(tmp_path / f"{kind}.csv", index=False)
            import_csv(database, kind, tmp_path / f"{kind}.csv", ACTOR, initial_load=True)

    return seeded(database, f"imported-{N}-3-{AS_OF}", load)


def _tiers(database) -> dict[int, str]:
    with database.session() as s:
        return dict(s.execute(select(CustomerTier.customer_id, CustomerTier.tier)).all())


def _run(database, run_id: int) -> TierRun:
    with database.session() as s:
        return s.get(TierRun, run_id)


def test_a_run_taken_for_dead_while_paused_commits_nothing_and_the_next_run_stands(portfolio):
    database = portfolio
    paused, resume, outcome = threading.Event(), threading.Event(), {}

    def hold(percent: int, phase: str) -> None:
        """The first run's process stops (a pause, a stall) once the run is under way."""
        if not paused.is_set():
            paused.set()
            assert resume.wait(timeout=300)

    def first() -> None:
        try:
            outcome["summary"] = recalc.recalculate(database, _req(AS_OF, progress=hold))
        except Exception as exc:  # noqa: BLE001 - looked at below
            outcome["error"] = exc

    thread = threading.Thread(target=first, name="paused-run")
    thread.start()
    try:
        assert paused.wait(timeout=300)
        # A stale window later (its heartbeat as old as that), the scheduler takes it for dead …
        later = utcnow() + recalc.STALE_AFTER + dt.timedelta(seconds=1)
        first_id = recalc.free_stale_slot(database, now=later)
        assert first_id is not None and _run(database, first_id).state == "failed"
        # … and a second run takes the slot and publishes.
        second = recalc.recalculate(database, _req(LATER))
        published = _tiers(database)
    finally:
        resume.set()
        thread.join(timeout=600)
    assert not thread.is_alive()

    assert published and second.delivery.error is None
    would_have = recalc.compute(database, _req(AS_OF))["tier"].to_dict()
    assert would_have != published  # the first run had tiers of its own to write …
    assert _tiers(database) == published  # … and wrote none of them: the second run's stand
    error = outcome.get("error")
    assert isinstance(error, recalc.LostSlot), outcome
    assert f"run {first_id} lost its slot" in str(error) and "abandoned" in str(error)
    first_run, second_run = _run(database, first_id), _run(database, second.run_id)
    assert (first_run.state, first_run.active_slot) == ("failed", None) and "lost its slot" in first_run.error
    assert first_run.finished_at is not None and first_run.customers in (None, 0)
    assert (second_run.state, second_run.changed) == ("completed", len(published))
    with database.session() as s:
        assert moves.pending(s, first_id) == (0, None)  # no moves of its own kept either
        assert moves.pending(s) == (0, None)
    # The slot is free: the next run goes ahead, from the second run's tiers.
    assert recalc.recalculate(database, _req(LATER)).changed == 0


def _fresh_process(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, "CRM_ENV": "test"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_a_process_without_subscribers_leaves_the_moves_pending_and_fails_loudly(db_url, portfolio):
    run_id = recalc.claim_slot(portfolio, _req(AS_OF))
    recalc.execute(portfolio, run_id, _req(AS_OF))  # committed, its moves not delivered yet
    with portfolio.session() as s:
        left = moves.pending(s, run_id)
    assert left[0] == N

    # A job process that imports the delivery but none of the features that follow the tiers.
    code = "import os; from crm.db import Database; from crm.jobs import moves; moves.deliver(Database(os.environ['DATABASE_URL']))"
    done = _fresh_process(db_url, "-c", code)
    assert done.returncode != 0 and "NoSubscribers" in done.stderr, done.stderr[-2000:]
    with portfolio.session() as s:
        assert moves.pending(s, run_id) == left  # every batch still pending, none lost
        assert s.scalar(select(func.count()).select_from(EntitlementEntry)) == 0

    # Where the features are imported, the same batches are delivered.
    assert moves.deliver(portfolio).moves == N
    with portfolio.session() as s:
        assert moves.pending(s) == (0, None)
        assert s.scalar(select(func.count()).select_from(EntitlementEntry)) > 0


def test_the_command_line_delivers_the_moves_of_its_run(db_url, portfolio):
    done = _fresh_process(db_url, "-m", "crm.cli_main", "tiers", "recalc", "--as-of", AS_OF.isoformat())
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"moves delivered to the subscribers (benefits): {N} in" in done.stdout
    with portfolio.session() as s:
        assert moves.pending(s) == (0, None)
        vips = set(s.scalars(select(CustomerTier.customer_id).where(CustomerTier.tier == "vip")))
        granted = set(s.scalars(select(EntitlementEntry.customer_id).where(EntitlementEntry.entry_type == "grant")))
    assert granted and granted <= vips  # the new VIPs' benefits, granted in the command's process
