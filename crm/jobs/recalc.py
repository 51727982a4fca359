"""Tier recalculation runs: frames in, engine, changes out.

A run is exactly-once by construction: it holds the single ``active_slot`` of ``tier_runs``
(a unique column) from start to end, so a second scheduler, a second click or the command
line during a run gets AlreadyRunning. Scheduled runs also carry a unique ``job_key`` per
day. Its two passes (crm.jobs.passes) compare the engine's results with the stored state
partition by partition, and only what changed is written, all in ONE transaction (on SQLite
after the scoring, on PostgreSQL during it): a run that fails or is killed leaves every tier
as it was (a killed run's slot is freed once its heartbeat, beaten every few seconds by a
thread of the run's process, is a minute old: crm.jobs.heartbeat). A run taken for dead
that was only paused cannot commit after that: its final update is fenced on still holding
its slot, and rolls back everything it wrote when it does not (LostSlot). Its moves are kept
in the same transaction and published to the subscribers once it has committed (crm.jobs.moves).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import audit
from crm.db import Database, utcnow
from crm.jobs import frames, heartbeat, moves, passes
from crm.jobs.write import clear_stage, moves_of, stage_changes, write_changes
from crm.models import TierRun
from crm.tiers import models_store
from crm.tiers.policy import current_policy

STALE_AFTER = heartbeat.STALE_AFTER  # a running run whose heartbeat is older is dead
SAMPLE_SIZE = 20  # moved customers shown in a preview


class AlreadyRunning(Exception):
    """Another run is queued or under way (or today's scheduled run exists)."""


class LostSlot(Exception):
    """The run was taken for dead (its heartbeat stale: a paused or stalled process) and its slot
    freed before it could commit; another run may have published since. Nothing it computed
    was written: its transaction rolled back."""


@dataclass
class RunRequest:
    as_of: dt.date
    actor: audit.Actor
    trigger: str = "cli"  # cli | ui | scheduler
    mode: str = "publish"  # publish | preview
    job_key: str | None = None
    partition_size: int = 125_000
    # The customers the frequency model is fitted on (their three years of policy-years), drawn
    # in blocks over the whole id range; None: everyone. More buys no ranking: on a known-truth
    # portfolio of 400,000 the published score, fitted on 50,000, 100,000 or 200,000 of them,
    # ranked everyone at Spearman 0.9807, 0.9806 and 0.9808 against the true rate
    # (benchmarks/risk_ranking.py --customers 400000 --model-sample N).
    model_sample: int | None = 100_000
    policy_file: str | None = None
    # The frequency model is refitted when the newest is older than this: refitting every
    # night would shift everyone's risk score a little and rewrite every row for nothing.
    refit_after_days: int = 30
    # Processes on this machine that read and score partitions side by side (None: one per
    # core, at most passes.MAX_WORKERS; 1: all in this process). The results are the same.
    workers: int | None = None
    # A Dask scheduler (or a distributed.LocalCluster) to score partitions on, for
    # portfolios one machine cannot hold; None scores them here.
    dask_address: object = None
    progress: Callable[[int, str], None] | None = None
    # The heartbeat's stale window: this run beats several times within it, and a running run
    # whose last beat is older is taken for dead when this one claims the slot.
    stale_after: dt.timedelta = STALE_AFTER


@dataclass
class RunSummary:
    run_id: int
    mode: str
    customers: int = 0
    changed: int = 0
    counts: dict = field(default_factory=dict)
    moves: dict = field(default_factory=dict)
    sample: list = field(default_factory=list)
    policy_version: str = ""
    model_version: str = ""
    seconds: float = 0.0
    workers: int = 1  # local processes that scored partitions (1: this one alone, or a Dask cluster)
    delivery: moves.Delivery | None = None  # the moves published to the subscribers after the commit


def _stale(stale_after: dt.timedelta, now: dt.datetime):
    return select(TierRun).where(
        TierRun.active_slot == 1, TierRun.state == "running", TierRun.heartbeat_at < now - stale_after
    )


def _free_stale(session: Session, stale_after: dt.timedelta, now: dt.datetime) -> int | None:
    stale = session.scalar(_stale(stale_after, now))
    if stale is None:
        return None
    # Conditional: a beat that landed since the SELECT (PostgreSQL) keeps the run alive.
    freed = session.execute(
        update(TierRun)
        .where(TierRun.id == stale.id, TierRun.state == "running", TierRun.heartbeat_at < now - stale_after)
        .values(
            state="failed",
            active_slot=None,
            finished_at=now,
            error=f"abandoned: no sign of life since {stale.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC",
        )
    ).rowcount
    return stale.id if freed else None


def free_stale_slot(
    database: Database, now: dt.datetime | None = None, stale_after: dt.timedelta = STALE_AFTER
) -> int | None:
    """A run whose process died holds the slot with a stale heartbeat: mark it failed (and
    return its id). Looks first without the write lock, which the check every few seconds
    of the scheduler would otherwise take on SQLite."""
    now = now or utcnow()
    with database.session() as session:
        if session.scalar(_stale(stale_after, now)) is None:
            return None
    with database.transaction() as session:
        return _free_stale(session, stale_after, now)


def take_slot(session: Session, req: RunRequest, state: str = "running") -> int:
    """Insert the run holding the active slot, in the caller's transaction (a savepoint).

    Raises AlreadyRunning if another run holds the slot, or the job key exists.
    """
    now = utcnow()
    run = TierRun(
        active_slot=1,
        job_key=req.job_key,
        mode=req.mode,
        state=state,
        trigger=req.trigger,
        started_by=req.actor.label,
        as_of=req.as_of,
        started_at=now if state == "running" else None,
        heartbeat_at=now,
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        busy = session.scalar(select(TierRun).where(TierRun.active_slot == 1))
        if busy is not None:
            raise AlreadyRunning(f"run {busy.id} ({busy.mode}, started by {busy.started_by}) is {busy.state}") from None
        raise AlreadyRunning(f"the run {req.job_key} exists already") from None
    return run.id


def claim_slot(database: Database, req: RunRequest, state: str = "running") -> int:
    """take_slot in a transaction of its own (command line, scheduler)."""
    free_stale_slot(database, stale_after=req.stale_after)
    with database.transaction() as session:
        return take_slot(session, req, state)


def _beat(database: Database, run_id: int, progress: int, req: RunRequest, phase: str) -> None:
    with database.transaction() as session:
        session.execute(update(TierRun).where(TierRun.id == run_id).values(heartbeat_at=utcnow(), progress=progress))
    if req.progress:
        req.progress(progress, phase)


def _reusable_model(database: Database, req: RunRequest):
    """The newest stored model, if it is recent enough to score with: (model, version) or None."""
    with database.session() as session:
        return models_store.reusable_model(session, dt.timedelta(days=req.refit_after_days), utcnow())


def compute(database: Database, req: RunRequest) -> pd.DataFrame:
    """Every customer's result as of req.as_of, changing nothing (for exports as of a date)."""
    with database.session() as session:
        policy = current_policy(session, req.policy_file)
    with database.engine.connect() as conn:
        ranges = frames.id_ranges(conn, req.partition_size)
    reused = _reusable_model(database, req)
    plr, model = passes.portfolio_pass(database, ranges, req, policy, None, fit=reused is None)
    model = reused[0] if reused and ranges else model
    if model is None:
        return pd.DataFrame(columns=["tier", "value_score", "risk_score", "reasons"])
    return pd.concat([result for result, _ in passes.iter_scored(database, ranges, req, policy, plr, model)])


def _moves(changes: list[pd.DataFrame]) -> dict:
    pairs = Counter()
    for part in changes:
        moved = moves_of(part)
        counts = moved.groupby(["old_tier", "tier"], observed=True, dropna=False).size()
        pairs.update({("new" if pd.isna(a) else a, b): int(n) for (a, b), n in counts.items() if n})
    return {f"{a}→{b}": n for (a, b), n in sorted(pairs.items())}


def _sample(changes: list[pd.DataFrame]) -> list[dict]:
    sample = []
    for part in changes:
        for cid, r in moves_of(part).head(SAMPLE_SIZE - len(sample)).iterrows():
            sample.append(
                {
                    "customer_id": int(cid),
                    "from": None if pd.isna(r.old_tier) else r.old_tier,
                    "to": r.tier,
                    "reasons": r.reasons.split(";") if r.reasons else [],
                }
            )
        if len(sample) >= SAMPLE_SIZE:
            break
    return sample


def execute(database: Database, run_id: int, req: RunRequest) -> RunSummary:
    """Compute the run that holds the slot, then publish it (or only record the preview)."""
    started = utcnow()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # OpenMP threads spin on a busy 2-core box
    with database.session() as session:
        policy = current_policy(session, req.policy_file)
    with database.engine.connect() as conn:
        ranges = passes.partitions(conn, req)
    _beat(database, run_id, 1, req, "starting")
    reused = _reusable_model(database, req)
    publish = req.mode == "publish"
    # One transaction for all of a run's writes (its audit events are plain INSERTs, sealed
    # later: crm.audit, so no lock is held for the whole run). Each partition's changes are staged as soon as they are known; nothing shows before COMMIT.
    # PostgreSQL applies them while the workers score the next partitions (other sessions go
    # on reading and writing meanwhile: MVCC). SQLite applies them once, after the scoring: the
    # transaction is not begun with the write lock (staging writes only a TEMP table, which
    # takes none), so other writers wait only while the staged changes are applied.
    early = database.dialect == "postgresql"
    with database.transaction(lock=False) as session:
        if publish:
            clear_stage(session)

        def take(part: pd.DataFrame) -> None:
            stage_changes(session, part)
            if early:
                write_changes(session, [part], run_id, req.as_of, req.actor)

        def beat(progress: int, phase: str) -> None:
            _beat(database, run_id, progress, req, phase)

        with passes.local_pool(req, len(ranges)) as pool:
            workers = pool.workers if pool is not None else 1
            plr, fitted = passes.portfolio_pass(database, ranges, req, policy, beat, fit=reused is None, pool=pool)
            model = reused[0] if reused and ranges else fitted
            changes, counts, customers = (
                passes.score_pass(database, ranges, req, policy, plr, model, beat, pool, take if publish else None)
                if model is not None
                else ([], Counter(), 0)
            )
        model_version = reused[1] if reused and ranges else (f"{fitted.version}#run{run_id}" if fitted else "")
        summary = RunSummary(
            run_id,
            req.mode,
            customers,
            sum(len(part) for part in changes),
            dict(counts),
            _moves(changes),
            _sample(changes),
            policy.version,
            model_version,
            workers=workers,
        )
        if publish and not early:
            write_changes(session, changes, run_id, req.as_of, req.actor)
        if fitted is not None and req.mode == "publish":
            models_store.save_model(session, fitted, summary.model_version)
        finished = utcnow()
        # The fence: the run commits only if it still holds its slot. A run taken for dead
        # meanwhile (crm.jobs.heartbeat) must not publish over the run that took the slot after
        # it: the update finds no row, and the exception rolls back all this transaction wrote.
        fenced = session.execute(
            update(TierRun)
            .where(TierRun.id == run_id, TierRun.state == "running", TierRun.active_slot == 1)
            .values(
                state="completed",
                active_slot=None,
                progress=100,
                finished_at=finished,
                heartbeat_at=finished,
                policy_version=policy.version,
                model_version=summary.model_version,
                portfolio_loss_ratio=plr,
                customers=customers,
                changed=summary.changed,
                counts=json.dumps(summary.counts),
                moves=json.dumps(summary.moves, ensure_ascii=False),
                sample=json.dumps(summary.sample),
            )
        ).rowcount
        if not fenced:
            raise _lost_slot(session, run_id)
        audit.record(
            session,
            req.actor,
            audit.Change(
                f"tiers.{'recalculated' if req.mode == 'publish' else 'previewed'}",
                "tier_run",
                run_id,
                None,
                {
                    "as_of": req.as_of,
                    "policy": policy.version,
                    "model": summary.model_version,
                    "counts": summary.counts,
                    "moves": summary.moves,
                    "changed": summary.changed,
                },
            ),
        )
    if publish and database.dialect == "postgresql":
        _refresh_statistics(database, summary.changed, customers)
    summary.seconds = (utcnow() - started).total_seconds()
    return summary


def _lost_slot(session: Session, run_id: int) -> LostSlot:
    run = session.get(TierRun, run_id, populate_existing=True)
    why = f"{run.state}: {run.error}" if run is not None and run.error else (run.state if run else "gone")
    return LostSlot(f"run {run_id} lost its slot before its commit ({why}); nothing it computed was written")


def _refresh_statistics(database: Database, changed: int, customers: int) -> None:
    """PostgreSQL's statistics of the tier tables, renewed at once after a run that rewrote
    a good part of them (autovacuum's own rule: 10% of the rows and 50), not a minute later by
    autovacuum: the planner of the statements that follow (the delivery of the moves, the
    pages) otherwise takes a table that a first run has just filled for empty. The delivery
    of a first run's moves at 1M took 71 s, 50 s of them finding the new VIPs' tiers by a
    scan of every tier row per batch; after ANALYZE, by the primary key. The same for the
    tiers' digests (crm.record_digests), which the run wrote as many of: the next night's
    run, planned on the statistics of a table without them, deleted the stale digests of each
    partition by a scan of every tier's digest (0.2-0.7 s a partition at 1M; 6 ms after ANALYZE)."""
    if changed < 50 + customers // 10:
        return
    with database.engine.connect() as conn:
        conn.execute(text("ANALYZE customer_tiers, tier_history, record_digests"))
        conn.commit()


def fail(database: Database, run_id: int, error: BaseException) -> None:
    """Record the failure and free the slot; the tiers were never touched."""
    reason = "".join(traceback.format_exception_only(type(error), error)).strip()[:2000]
    with database.transaction() as session:
        session.execute(
            update(TierRun)
            .where(TierRun.id == run_id)
            .values(state="failed", active_slot=None, finished_at=utcnow(), error=reason)
        )


def recalculate(database: Database, req: RunRequest) -> RunSummary:
    """Claim the slot, run, and record the outcome. Raises AlreadyRunning, or the run's error."""
    run_id = claim_slot(database, req)
    try:
        with heartbeat.beating(database, TierRun, run_id, req.stale_after):
            summary = execute(database, run_id, req)
    except BaseException as exc:
        fail(database, run_id, exc)
        raise
    summary.delivery = moves.deliver(database)
    return summary


def queue(session: Session, req: RunRequest) -> int:
    """Queue a run for the scheduler process (the web never runs one), in the caller's
    transaction. Raises AlreadyRunning."""
    _free_stale(session, req.stale_after, utcnow())
    return take_slot(session, req, state="queued")


def process_queue(
    database: Database, workers: int | None = None, stale_after: dt.timedelta = STALE_AFTER
) -> RunSummary | None:
    """Run the queued run, if any (called by the scheduler process every few seconds)."""
    with database.transaction() as session:
        run = session.scalar(select(TierRun).where(TierRun.state == "queued", TierRun.active_slot == 1))
        if run is None:
            return None
        claimed = session.execute(
            update(TierRun)
            .where(TierRun.id == run.id, TierRun.state == "queued")
            .values(state="running", started_at=utcnow(), heartbeat_at=utcnow())
        ).rowcount
        req = RunRequest(
            as_of=run.as_of,
            actor=audit.Actor("user", run.started_by),
            trigger=run.trigger,
            mode=run.mode,
            workers=workers,
            stale_after=stale_after,
        )
        run_id = run.id
    if not claimed:
        return None
    try:
        with heartbeat.beating(database, TierRun, run_id, req.stale_after):
            summary = execute(database, run_id, req)
    except Exception as exc:  # noqa: BLE001 - recorded on the run, the scheduler goes on
        fail(database, run_id, exc)
        return None
    summary.delivery = moves.deliver(database)
    return summary
