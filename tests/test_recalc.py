"""Recalculation runs: publish, idempotent rerun, preview, exactly-once, failures, partitions."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import event, func, select, update

from crm import audit, events
from crm.db import utcnow
from crm.demo import seed_demo
from crm.jobs import frames, passes, recalc
from crm.models import Claim, Customer, CustomerTier, Policy, RiskModelRecord, TierHistory, TierRun
from segmentation.aggregates import aggregate, portfolio_totals
from segmentation.frames import day_number, prepare
from segmentation.policy import TierPolicy
from tests.template_helpers import seeded

AS_OF = dt.date(2026, 11, 24)
ACTOR = audit.Actor("system", "tests")


@pytest.fixture
def portfolio(database):
    return seeded(database, "demo-600-3", lambda: seed_demo(database, 600, seed=3, as_of=AS_OF))


def _req(**kw) -> recalc.RunRequest:
    return recalc.RunRequest(**{"as_of": AS_OF, "actor": ACTOR, **kw})


def _count(database, model, *where) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _tiers(database) -> dict:
    with database.session() as s:
        return {
            r.customer_id: (r.tier, r.reasons, float(r.value_score), float(r.risk_score))
            for r in s.scalars(select(CustomerTier))
        }


def test_seed_publishes_a_run_and_a_rerun_writes_nothing(portfolio):
    assert _count(portfolio, CustomerTier) == 600
    recalc.recalculate(portfolio, _req())  # the features' demo data (claims, cases) came after the seed's run
    history = _count(portfolio, TierHistory)
    before = _tiers(portfolio)
    summary = recalc.recalculate(portfolio, _req())
    assert summary.changed == 0 and summary.customers == 600
    assert summary.model_version.endswith("#run1")  # a recent model is reused, not refitted
    assert _count(portfolio, TierHistory) == history
    assert _tiers(portfolio) == before
    assert set(summary.counts) <= {"vip", "standard", "watchlist"} and sum(summary.counts.values()) == 600


def test_history_keeps_each_state_a_customer_has_left_and_the_current_one_once(portfolio):
    from crm.tiers.explain import history

    assert _count(portfolio, TierHistory) == 0  # the seed's run gave everyone a first tier: no history yet
    with portfolio.session() as s:
        before = {
            t.customer_id: (t.tier, t.reasons, t.value_score, t.risk_score, t.run_id, t.as_of)
            for t in s.scalars(select(CustomerTier))
        }
    summary = recalc.recalculate(portfolio, _req(as_of=AS_OF + dt.timedelta(days=400), refit_after_days=0))
    assert summary.changed > 0
    assert _count(portfolio, TierHistory) == summary.changed
    with portfolio.session() as s:
        left = {
            h.customer_id: (h.tier, h.reasons, h.value_score, h.risk_score, h.run_id, h.as_of)
            for h in s.scalars(select(TierHistory))
        }
        now = {
            t.customer_id: (t.tier, t.reasons, t.value_score, t.risk_score, t.run_id, t.as_of)
            for t in s.scalars(select(CustomerTier))
        }
        assert left == {c: before[c] for c in left}  # each changed customer's old state, as it was
        assert all(now[c] != before[c] and now[c][4] == summary.run_id for c in left)
        assert all(now[c] == before[c] for c in now if c not in left)
        one = next(iter(left))  # the customer page shows the state left, then the current one
        assert [(h.tier, h.run_id) for h in history(s, one)] == [
            (before[one][0], before[one][4]),
            (now[one][0], summary.run_id),
        ]


def test_preview_changes_nothing(portfolio):
    database = portfolio
    before = _tiers(database)
    summary = recalc.recalculate(database, _req(mode="preview", as_of=AS_OF + dt.timedelta(days=400)))
    assert summary.mode == "preview"
    assert _tiers(database) == before
    with database.session() as s:
        run = s.get(TierRun, summary.run_id)
        assert run.state == "completed" and run.mode == "preview"
        assert json.loads(run.moves) == summary.moves


def test_partitioned_run_equals_single_pass(database, tmp_path):
    seeded(database, "demo-500-11", lambda: seed_demo(database, 500, seed=11, as_of=AS_OF))
    with database.transaction() as s:  # start from nothing, compute once in many partitions …
        s.execute(CustomerTier.__table__.delete())
    recalc.recalculate(database, _req(partition_size=37, model_sample=None))
    partitioned = _tiers(database)
    with database.transaction() as s:  # … and once in one
        s.execute(CustomerTier.__table__.delete())
    recalc.recalculate(database, _req(partition_size=1_000_000, model_sample=None))
    assert _tiers(database) == partitioned


def test_worker_processes_give_what_one_process_gives(database):
    """Partitions (and the model's sample) read and scored by a pool of worker processes give
    the very tiers, scores, moves and model that this process alone gives."""
    seeded(database, "demo-500-11", lambda: seed_demo(database, 500, seed=11, as_of=AS_OF))
    table = CustomerTier.__table__
    with database.session() as s:
        start = [dict(r._mapping) for r in s.execute(select(table))]
    # Refit (refit_after_days=0), so that the model's sample is read by the workers too.
    req = dict(as_of=AS_OF + dt.timedelta(days=200), partition_size=60, refit_after_days=0)
    alone = recalc.recalculate(database, _req(**req, workers=1))
    tiers_alone = _tiers(database)
    with database.transaction() as s:
        s.execute(table.delete())
        s.execute(table.insert(), start)
    pooled = recalc.recalculate(database, _req(**req, workers=2))
    assert (alone.workers, pooled.workers) == (1, 2)
    assert (pooled.changed, pooled.counts, pooled.moves) == (alone.changed, alone.counts, alone.moves)
    assert alone.changed > 0 and _tiers(database) == tiers_alone
    with database.session() as s:
        models = s.scalars(select(RiskModelRecord).order_by(RiskModelRecord.id.desc()).limit(2)).all()
        assert models[0].metrics == models[1].metrics


def test_a_portfolio_smaller_than_a_partition_per_worker_is_split_among_the_workers(database):
    def ranges(workers: int):
        with database.engine.connect() as conn:
            return passes.partitions(conn, _req(workers=workers))

    def add(cid: int):
        with database.transaction() as s:
            s.add(
                Customer(
                    id=cid,
                    customer_ref=f"SPLIT{cid}",
                    name="拆分",
                    id_number="110105196001010018",
                    birth_date=dt.date(1960, 1, 1),
                    gender="M",
                    phone=f"139{cid:08d}",
                    city="上海",
                    source="referral",
                )
            )

    add(1)
    add(50_000)
    assert ranges(2) == [(1, 50_001)]  # too few to be worth a second process
    add(120_000)
    assert ranges(1) == [(1, 120_001)]
    assert ranges(2) == [(1, 60_001), (60_001, 120_001)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_runs_writes_cost_what_its_changes_cost_however_many_partitions(database):
    """Each statement of a run's write finds each tier row it writes by its key: a refit writes
    a partition at a time, and a scan of every tier row per partition made a refit of a million
    customers quadratic (8 partitions, each scanning a million rows; 24 at three million).
    SQLite's planner, without statistics, chose that scan for the joins as first written. The
    same refit of the same portfolio, in one partition and in thirty, must make SQLite do about
    the same work (its virtual machine's steps, counted on every connection of the run)."""
    steps = []

    def count(dbapi_conn, _record, _proxy):
        dbapi_conn.set_progress_handler(lambda: steps.append(1), 100)  # one call per 100 steps

    def seed():
        seed_demo(database, 600, seed=3, as_of=AS_OF)

    work = {}
    for partition_size in (600, 20):
        seeded(database, "demo-600-3", seed)  # the same seeded portfolio each time
        event.listen(database.engine, "checkout", count)
        try:
            summary = recalc.recalculate(
                database,
                _req(as_of=AS_OF + dt.timedelta(days=1), refit_after_days=0, partition_size=partition_size, workers=1),
            )
        finally:
            event.remove(database.engine, "checkout", count)
            database.dispose()  # no connection keeps the handler
        assert summary.changed >= 100  # a refit rewrites a good part of the tiers
        work[partition_size], steps[:] = len(steps), []
    assert work[20] < 1.5 * work[600], work


def test_on_postgresql_a_partition_reads_its_own_tier_rows_not_every_one(pg_database):
    """PostgreSQL applies each partition as it is scored. Its planner knows nothing of the
    stage (a TEMP table has no statistics) and, with the tier rows bounded only by the join,
    hashed the stage and scanned every tier row for each partition: quadratic in the
    portfolio. Bounded by the stage's ids, each statement reads the partition's rows."""
    from sqlalchemy import create_engine, text

    from crm.jobs import write
    from tests.conftest import _reset_postgres

    _reset_postgres(pg_database)
    engine = create_engine(pg_database)
    with engine.connect() as conn:
        conn.execute(
            text(
                "INSERT INTO customer_tiers (customer_id, tier, reasons, computed_tier, computed_reasons, "
                "value_score, risk_score, run_id, as_of, updated_at) SELECT i, 'standard', '', 'standard', "
                "'', 10, 20, 1, DATE '2025-01-01', now() FROM generate_series(1, 100000) AS i"
            )
        )
        conn.execute(text("ANALYZE customer_tiers"))
        conn.execute(text(write._CREATE_STAGE))
        conn.execute(
            text(
                f"INSERT INTO {write.STAGE} SELECT customer_id, CASE WHEN customer_id % 10 = 0 THEN 'vip' "
                "ELSE tier END, reasons, computed_tier, computed_reasons, value_score + 1, risk_score, tier "
                "FROM customer_tiers WHERE customer_id BETWEEN 50001 AND 60000"
            )
        )
        bounds = conn.execute(text(f"SELECT MIN(customer_id) AS lo, MAX(customer_id) AS hi FROM {write.STAGE}")).one()
        for sql in (write._REPLACED, *(sql for sql, _ in write._CURRENT["postgresql"])):
            plan = (
                conn.execute(
                    text("EXPLAIN " + sql),
                    {"run": 2, "as_of": dt.date(2025, 1, 2), "now": utcnow(), "lo": bounds.lo, "hi": bounds.hi},
                )
                .scalars()
                .all()
            )
            assert not any("Seq Scan on customer_tiers" in step for step in plan), (sql.split("(")[0], plan)
        conn.rollback()
    engine.dispose()


def test_other_writers_go_on_while_a_run_scores(portfolio, monkeypatch):
    """While a run scores, its first partition already staged in its open transaction (and on
    PostgreSQL written), another session's audited write commits at once (on SQLite: the
    run's transaction has not taken the write lock), and no tier shows yet."""
    before, seen = _tiers(portfolio), []
    real_beat = recalc._beat

    def beat(database, run_id, progress, req, phase):
        real_beat(database, run_id, progress, req, phase)
        if phase == "scoring" and not seen:
            done = threading.Event()

            def other_writer():
                with portfolio.transaction() as s:
                    audit.record(s, ACTOR, audit.Change("test.written", "customer", 1, None, {"during": "scoring"}))
                done.set()

            thread = threading.Thread(target=other_writer)
            thread.start()
            thread.join(timeout=20)
            seen.append((done.is_set(), _tiers(portfolio) == before))

    monkeypatch.setattr(recalc, "_beat", beat)
    summary = recalc.recalculate(portfolio, _req(as_of=AS_OF + dt.timedelta(days=200), partition_size=100, workers=1))
    assert seen == [(True, True)]
    assert summary.changed > 0 and _tiers(portfolio) != before


def test_only_one_run_at_a_time_under_concurrency(portfolio):
    results, barrier = [], threading.Barrier(12)

    def start():
        barrier.wait()
        try:
            results.append(recalc.claim_slot(portfolio, _req()))
        except recalc.AlreadyRunning as exc:
            results.append(exc)

    threads = [threading.Thread(target=start) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1 and len(results) == 12
    assert all("is running" in str(r) for r in results if not isinstance(r, int))
    with pytest.raises(recalc.AlreadyRunning):  # also from the command line path
        recalc.recalculate(portfolio, _req())


def test_two_schedulers_give_one_run_a_day(portfolio, app):
    from crm.jobs.scheduler import scheduled_recalc

    settings = app.config["CRM_SETTINGS"]
    threads = [threading.Thread(target=scheduled_recalc, args=(portfolio, settings)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    scheduled_recalc(portfolio, settings)  # a third, later the same day
    assert _count(portfolio, TierRun, TierRun.job_key.like("scheduled:%")) == 1


def test_a_failing_run_leaves_tiers_as_they_were_and_the_next_run_works(portfolio, monkeypatch):
    before = _tiers(portfolio)
    real = recalc.write_changes

    def crash_after_writing(session, *args, **kwargs):
        real(session, *args, **kwargs)  # the writes happen … then the process "dies"
        raise RuntimeError("killed midway")

    monkeypatch.setattr(recalc, "write_changes", crash_after_writing)
    with pytest.raises(RuntimeError):
        recalc.recalculate(portfolio, _req(as_of=AS_OF + dt.timedelta(days=500)))
    assert _tiers(portfolio) == before
    with portfolio.session() as s:
        failed = s.scalar(select(TierRun).order_by(TierRun.id.desc()).limit(1))
        assert failed.state == "failed" and "killed midway" in failed.error and failed.active_slot is None
    monkeypatch.undo()
    assert recalc.recalculate(portfolio, _req(as_of=AS_OF + dt.timedelta(days=500))).changed > 0


def test_a_killed_process_frees_the_slot_once_its_heartbeat_is_stale(portfolio):
    run_id = recalc.claim_slot(portfolio, _req())  # the process holding it then dies
    with pytest.raises(recalc.AlreadyRunning):
        recalc.claim_slot(portfolio, _req())
    with portfolio.transaction() as s:
        s.execute(update(TierRun).where(TierRun.id == run_id).values(heartbeat_at=utcnow() - dt.timedelta(hours=1)))
    summary = recalc.recalculate(portfolio, _req())
    with portfolio.session() as s:
        dead = s.get(TierRun, run_id)
        assert dead.state == "failed" and "abandoned" in dead.error
    assert summary.customers == 600


def test_the_audit_trail_names_every_changed_customer_and_their_new_state(portfolio, monkeypatch):
    """Each run's tiers.changed events (AUDIT_CHUNK customers each) hold, column by column,
    every customer the run wrote: from which tier to which, the reasons and the scores, as
    stored; and the chain still verifies."""
    from crm.jobs import write
    from crm.models import AuditEvent

    monkeypatch.setattr(write, "AUDIT_CHUNK", 7)  # several events, the last one short
    before = _tiers(portfolio)
    summary = recalc.recalculate(portfolio, _req(as_of=AS_OF + dt.timedelta(days=200)))
    after = _tiers(portfolio)
    with portfolio.session() as s:
        payloads = [
            json.loads(e.after)
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "tiers.changed", AuditEvent.entity_id == str(summary.run_id))
                .order_by(AuditEvent.seq)
            )
        ]
        assert audit.verify(s).ok
    assert len(payloads) == -(-summary.changed // 7) and summary.changed > 7
    logged = {}
    for p in payloads:
        assert set(p) == {"customer_id", "from", "to", "reasons", "value_score", "risk_score"}
        for i, cid in enumerate(p["customer_id"]):
            logged[cid] = (p["from"][i], (p["to"][i], p["reasons"][i], p["value_score"][i], p["risk_score"][i]))
    changed = {cid for cid in after if after[cid] != before.get(cid)}
    assert set(logged) == changed
    assert all(logged[cid] == (before[cid][0], after[cid]) for cid in changed)


def test_tier_moves_are_published_as_domain_events(database):
    received = []

    def handler(session, event):
        received.append(event)

    events.subscribe(events.TiersChanged, handler)
    try:
        seed_demo(database, 200, seed=8, as_of=AS_OF)
    finally:
        events._handlers[events.TiersChanged].remove(handler)  # the features' own stay subscribed
    moves = [m for event in received for m in event.moves]  # a batch per (old tier, new tier)
    assert len({event.run_id for event in received}) == 1 and len(received) == len({m.new_tier for m in moves})
    with database.session() as s:
        customers = list(s.scalars(select(Customer.id).order_by(Customer.id)))
    assert sorted(m.customer_id for m in moves) == customers and all(m.old_tier is None for m in moves)


def test_model_beats_the_constant_rate_baseline_on_the_demo_portfolio(database):
    seed_demo(database, 3000, seed=7, as_of=AS_OF)
    with database.session() as s:
        model = s.scalar(select(RiskModelRecord).order_by(RiskModelRecord.id.desc()).limit(1))
    metrics = json.loads(model.metrics)
    assert model.kind in ("poisson_glm", "hgb_poisson")
    assert metrics["deviance_model"] < metrics["deviance_baseline"]
    assert metrics["gini_normalised"] > 0.1


def test_cli_recalc_and_export(runner, portfolio, tmp_path):
    runner.invoke(args=["tiers", "recalc", "--as-of", AS_OF.isoformat()])
    result = runner.invoke(args=["tiers", "recalc", "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    assert "0 changed" in result.output and "vip" in result.output
    path = tmp_path / "tiers.csv"
    assert runner.invoke(args=["tiers", "export", str(path)]).exit_code == 0
    lines = path.read_text().splitlines()
    assert lines[0] == "customer_ref,tier,value_score,risk_score,reasons" and len(lines) == 601
    bad = runner.invoke(args=["tiers", "recalc", "--as-of", "yesterday"])
    assert bad.exit_code != 0 and "not a date" in bad.output


def test_the_database_sums_equal_the_engine_sums_to_the_last_bit(database):
    """A run's sums (crm.jobs.frames.load_aggregates) and the engine's from the rows as the frames carry them
    must be the same whole numbers, hence the same features and tiers."""
    seed_demo(database, 400, seed=13, as_of=AS_OF)
    with database.transaction() as s:  # awkward rows: whole-life cover, a claim with odd cents
        s.execute(
            update(Policy)
            .where(Policy.id == s.scalar(select(func.min(Policy.id))))
            .values(end_date=dt.date(2199, 12, 31))
        )
        s.execute(
            update(Claim)
            .where(Claim.id == s.scalar(select(func.min(Claim.id))))
            .values(paid_amount=Decimal("0.29"), reserve_amount=Decimal("1234567.57"))
        )
        # a date before 1970, a term of many years
        s.execute(
            update(Policy)
            .where(Policy.id == s.scalar(select(func.max(Policy.id))))
            .values(start_date=dt.date(1965, 3, 1), term_years=70_000, payment_mode="annual")
        )
    policy = TierPolicy()
    cutoff = AS_OF - dt.timedelta(days=365)
    with database.engine.connect() as conn:
        first, last = conn.execute(select(func.min(Customer.id), func.max(Customer.id))).one()
        for lo, hi in ((first, last + 1), (first + 50, first + 170)):
            part = frames.load_partition(conn, lo, hi, AS_OF)
            prep = prepare(part["customers"], part["policies"], part["claims"], AS_OF, policy)
            for d, target in ((AS_OF, None), (cutoff, AS_OF)):
                in_sql = frames.load_aggregates(conn, lo, hi, d, policy, target_to=target)
                in_numpy = aggregate(prep, day_number(d), policy, None if target is None else day_number(target))
                pd.testing.assert_frame_equal(in_sql, in_numpy, check_exact=True)
                assert len(in_sql) == min(hi, last + 1) - lo
                assert in_sql["claims_3y"].sum() > 0 and in_sql["premium_cents"].sum() > 0
            if lo == first:
                whole = aggregate(prep, day_number(AS_OF), policy)
        assert frames.portfolio_totals(conn, AS_OF, policy) == portfolio_totals(whole)


def test_a_run_with_no_claims_or_cover_in_its_window_works(database):
    seed_demo(database, 120, seed=4, as_of=AS_OF)
    summary = recalc.recalculate(database, _req(as_of=AS_OF + dt.timedelta(days=365 * 60)))
    assert summary.customers == 120 and summary.counts.get("watchlist", 0) == 0
    with database.session() as s:
        assert s.get(TierRun, summary.run_id).portfolio_loss_ratio == 0.0


@pytest.mark.parametrize("rows_per_statement", [200, 2])  # SQLite: one statement, or two (2 + 1)
def test_bulk_insert_keeps_every_value_as_given(database, monkeypatch, rows_per_statement):
    """The stage's bulk path (COPY on PostgreSQL, many rows a statement on SQLite): NULLs, a
    text that reads as COPY's NULL marker, dates and times, and numbers arrive as they were
    sent."""
    from sqlalchemy import table, text

    from crm import bulk
    from crm.bulk import bulk_insert, copy_csv

    monkeypatch.setattr(bulk, "_ROWS_PER_INSERT", rows_per_statement)

    now = dt.datetime(2026, 11, 24, 8, 30, tzinfo=dt.UTC)
    columns = {
        "n": [1, 2, 3],
        "x": [0.5, 12.25, 99.99],
        "label": ["a", None, 'b,"c"'],
        "day": [AS_OF, None, AS_OF],
        "at": [now, now, None],
    }
    cases = [
        (columns["label"], False),
        (columns["label"], True),  # made here, or rendered beforehand
        (["a", "\\N", "b"], False),
    ]  # the last goes row by row on PostgreSQL
    for label, rendered in cases:
        with database.transaction() as session:
            conn = session.connection()
            conn.execute(
                text(
                    "CREATE TEMPORARY TABLE bulk_t (n INTEGER, x NUMERIC(5, 2), label VARCHAR(20), "
                    "day DATE, at TIMESTAMP)"
                )
            )
            rows = {**columns, "label": label}
            bulk_insert(session, table("bulk_t"), rows, copy_csv(rows) if rendered else None)
            got = conn.execute(text("SELECT n, x, label, day, at FROM bulk_t ORDER BY n")).all()
            conn.execute(text("DROP TABLE bulk_t"))
        assert [r[0] for r in got] == [1, 2, 3]
        assert [float(r[1]) for r in got] == columns["x"]
        assert [r[2] for r in got] == label
        assert [None if r[3] is None else str(r[3])[:10] for r in got] == ["2026-11-24", None, "2026-11-24"]
        assert [None if r[4] is None else str(r[4])[:16] for r in got] == ["2026-11-24 08:30", "2026-11-24 08:30", None]
