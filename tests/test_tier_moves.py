"""A run's moves: kept in its transaction, delivered to the subscribers after it commits, each
batch once and in order, a failure kept on the batch and tried again (crm.jobs.moves)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import numpy as np
import pytest
import sqlalchemy
from sqlalchemy import func, select, text, update

from crm import audit, events
from crm.demo_data import generate_portfolio
from crm.importer import import_csv
from crm.jobs import moves, recalc
from crm.models import CustomerTier, TierMoveBatch
from crm.models.benefits import AssistanceEnrolment, EntitlementEntry
from tests.benefits_helpers import move
from tests.template_helpers import seeded

AS_OF = dt.date(2026, 11, 24)
ACTOR = audit.Actor("system", "tests")


def _req(**kw) -> recalc.RunRequest:
    return recalc.RunRequest(**{"as_of": AS_OF, "actor": ACTOR, "workers": 1, **kw})


def _portfolio(database, tmp_path, n: int, seed: int) -> None:
    """Customers, policies and claims, imported; no tiers yet (imported once per worker)."""

    def load() -> None:
        data = generate_portfolio(n, seed, AS_OF, [])
        for kind in ("customers", "policies", "claims"):
            getattr(data, kind).to_csv(tmp_path / f"{kind}.csv", index=False)
            import_csv(database, kind, tmp_path / f"{kind}.csv", ACTOR, initial_load=True)

    seeded(database, f"imported-{n}-{seed}-{AS_OF}", load)


def _committed_run(database, **kw) -> int:
    """A run that committed, its moves not delivered (as if its process died after the commit)."""
    run_id = recalc.claim_slot(database, _req(**kw))
    recalc.execute(database, run_id, _req(**kw))
    return run_id


def _grants(database, ids=None) -> int:
    with database.session() as s:
        where = [EntitlementEntry.entry_type == "grant"]
        if ids is not None:
            where.append(EntitlementEntry.customer_id.in_(ids))
        return s.scalar(select(func.count()).select_from(EntitlementEntry).where(*where))


def _vips(database) -> list[int]:
    with database.session() as s:
        return list(
            s.scalars(
                select(CustomerTier.customer_id).where(CustomerTier.tier == "vip").order_by(CustomerTier.customer_id)
            )
        )


@pytest.fixture
def recording():
    """The TiersChanged events published, as (run id, old tier, new tier, ids)."""
    received = []

    def handler(session, event):
        for (old, new), ids in events.moves_by_pair(event.moves).items():
            received.append((event.run_id, old, new, ids))

    events.subscribe(events.TiersChanged, handler)
    yield received
    events._handlers[events.TiersChanged].remove(handler)


def test_a_run_keeps_its_moves_and_they_are_delivered_after_its_commit_once(database, recording, monkeypatch, tmp_path):
    monkeypatch.setattr(moves, "BATCH", 40)  # several batches for the biggest move
    _portfolio(database, tmp_path, 300, seed=4)
    run_id = _committed_run(database)
    assert recording == []  # nothing published inside the run
    with database.session() as s:
        batches = list(
            s.scalars(select(TierMoveBatch).where(TierMoveBatch.run_id == run_id).order_by(TierMoveBatch.id))
        )
        assert batches and all(b.delivered_at is None for b in batches)
        assert all(0 < b.customers <= 40 for b in batches) and len({(b.old_tier, b.new_tier) for b in batches}) > 1
        assert moves.pending(s, run_id) == (sum(b.customers for b in batches), None)
        stored = {
            cid: (b.old_tier, b.new_tier)
            for b in batches
            for cid in np.frombuffer(b.customer_ids, dtype="<i8").tolist()
        }
        tiers = dict(s.execute(select(CustomerTier.customer_id, CustomerTier.tier)).all())
    assert all(tiers[cid] == new != old for cid, (old, new) in stored.items())

    delivery = moves.deliver(database)
    assert (delivery.batches, delivery.moves, delivery.error) == (len(batches), len(stored), None)
    assert [r[0] for r in recording] == [run_id] * len(batches)
    assert {cid: (old, new) for _, old, new, ids in recording for cid in ids} == stored
    assert sum(len(ids) for *_, ids in recording) == len(stored)  # each move once
    assert moves.deliver(database).batches == 0 and len(recording) == len(batches)
    with database.session() as s:
        assert moves.pending(s) == (0, None)


def test_new_vips_get_their_benefits_from_the_delivery_once(database, tmp_path):
    _portfolio(database, tmp_path, 250, seed=3)
    recalc.recalculate(database, _req())
    vips = _vips(database)
    assert vips and _grants(database, vips) == _grants(database) > 0
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(AssistanceEnrolment)) == len(vips)
    entries = _grants(database)
    with database.transaction() as s:  # as if none had been delivered: every batch pending again
        s.execute(update(TierMoveBatch).values(delivered_at=None))
    assert moves.deliver(database).moves == 250
    assert _grants(database) == entries  # keyed grants: delivered again, granted once


def test_a_failing_subscriber_leaves_the_run_published_and_its_moves_pending(database, runner, monkeypatch, tmp_path):
    from crm.benefits import ledger

    _portfolio(database, tmp_path, 250, seed=3)
    real = ledger.enter_tier

    def broken(*args, **kwargs):
        raise RuntimeError("the catalogue is broken")

    monkeypatch.setattr(ledger, "enter_tier", broken)
    result = runner.invoke(args=["tiers", "recalc", "--as-of", AS_OF.isoformat()])
    assert result.exit_code != 0 and "the tiers are published" in result.output
    assert "the catalogue is broken" in result.output
    vips = _vips(database)
    assert vips and _grants(database) == 0  # the tiers stand; the benefits wait
    with database.session() as s:
        left, error = moves.pending(s)
        assert left > 0 and "the catalogue is broken" in error
        assert s.scalar(select(func.max(TierMoveBatch.attempts))) == 1

    monkeypatch.setattr(ledger, "enter_tier", real)
    from crm.jobs.scheduler import undelivered_moves

    undelivered_moves(database, None)  # the scheduler's catch-up job
    with database.session() as s:
        assert moves.pending(s) == (0, None)
    assert _grants(database, vips) == _grants(database) > 0


def test_a_late_batch_does_not_undo_a_later_move(database, tmp_path):
    _portfolio(database, tmp_path, 250, seed=3)
    _committed_run(database)  # its moves not delivered yet
    vips = _vips(database)
    moved_on = vips[:3]
    move(database, moved_on, "standard")  # e.g. an override, published at once: nothing to stop yet
    assert moves.deliver(database).error is None
    assert _grants(database, moved_on) == 0  # the late batch grants nothing to who has left
    assert _grants(database, vips[3:]) > 0
    with database.session() as s:
        balances = dict(
            s.execute(
                select(EntitlementEntry.customer_id, func.sum(EntitlementEntry.quantity))
                .where(EntitlementEntry.customer_id.in_(moved_on))
                .group_by(EntitlementEntry.customer_id)
            ).all()
        )
    assert balances == {}


def test_two_deliverers_deliver_each_batch_once_and_in_order(database, recording, monkeypatch, tmp_path):
    monkeypatch.setattr(moves, "BATCH", 25)
    _portfolio(database, tmp_path, 200, seed=5)
    _committed_run(database)
    with database.session() as s:
        stored = [
            (b.old_tier, b.new_tier, np.frombuffer(b.customer_ids, dtype="<i8").tolist())
            for b in s.scalars(select(TierMoveBatch).order_by(TierMoveBatch.id))
        ]

    # The overlap, made certain: the first deliverer, inside its first batch, meets the second at
    # a barrier, and keeps the batch until the second has reached the database and waits on it
    # (SQLite: its BEGIN IMMEDIATE is sent, which waits for the write lock; PostgreSQL: its
    # UPDATE of the batch waits on the first's row lock, as pg_locks shows).
    meet, second, held, outcomes = threading.Barrier(2, timeout=60), threading.Event(), [], []

    def hold(session, event):
        if not held:  # the first batch
            held.append(event)
            meet.wait()
            assert second.wait(timeout=60)
            while database.dialect == "postgresql" and not _lock_waiters(database):
                time.sleep(0.005)

    def sent(conn, *_args):
        if threading.current_thread().name == "second":
            second.set()

    def deliverer():
        if threading.current_thread().name == "second":
            meet.wait()
        outcomes.append(moves.deliver(database))

    events.subscribe(events.TiersChanged, hold)
    sqlalchemy.event.listen(database.engine, "before_cursor_execute", sent)
    try:
        threads = [threading.Thread(target=deliverer, name=name) for name in ("second", "first")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        events._handlers[events.TiersChanged].remove(hold)
        sqlalchemy.event.remove(database.engine, "before_cursor_execute", sent)
    assert second.is_set() and not meet.broken
    assert len(outcomes) == 2 and all(o.error is None for o in outcomes)
    assert sum(o.batches for o in outcomes) == len(stored) > 4
    assert [(old, new, ids) for _, old, new, ids in recording] == stored  # each once, in the order stored


def _lock_waiters(database) -> int:
    with database.engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_run_that_rewrote_the_tiers_renews_their_statistics_on_postgresql(database, tmp_path):
    """Else the planner takes the tier table a first run has just filled for empty, and the
    delivery that follows scans every tier row for each batch (crm.jobs.recalc)."""
    from sqlalchemy import text

    def analysed():
        with database.engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            return conn.execute(
                text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'customer_tiers'")
            ).scalar()

    _portfolio(database, tmp_path, 300, seed=4)
    before = analysed()
    recalc.recalculate(database, _req())
    after = analysed()
    assert after is not None and (before is None or after > before)
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'customer_tiers'")).scalar() == 300
    recalc.recalculate(database, _req())  # a rerun changes nothing: the statistics stand
    assert analysed() == after
