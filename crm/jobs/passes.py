"""A recalculation's two passes over the portfolio, and where they run.

Pass 1 (``portfolio_pass``): the portfolio loss ratio, summed by the database, and the
frequency model, fitted on a sample of customers over the three years before the as-of date.
Pass 2 (``score_pass``): each partition (a range of customer ids) read, scored and compared
with its stored state, keeping only what changed. Partitions run in this process, in a pool
of local worker processes (``local_pool``: one per core), or on a Dask cluster; all three
give the same results. crm.jobs.recalc runs a run around them: its slot, its writes, its
record.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crm.db import Database
from crm.jobs import frames, training
from segmentation.engine import changed_customers, fit_model, score_aggregates
from segmentation.features import portfolio_lr_from_totals
from segmentation.policy import TierPolicy
from segmentation.risk_model import FittedModel
from segmentation.tiers import REASON_TEXTS, REASONS_OF_MASK, TIERS

if TYPE_CHECKING:
    from crm.jobs.recalc import RunRequest

MAX_WORKERS = 4  # local worker processes of a run, by default one per core up to this
# A portfolio of at least this many ids, smaller than a partition per worker, is split so
# that every worker has one; below it, starting workers costs more than they save.
SPLIT_FOR_WORKERS_FROM = 100_000

Beat = Callable[[int, str], None]  # (percent done, phase): the run's heartbeat and progress


def _tick(beat: Beat | None, progress: int, phase: str) -> None:
    if beat is not None:
        beat(progress, phase)


class _Pool(concurrent.futures.ProcessPoolExecutor):
    def __init__(self, workers: int):
        # forkserver: workers start from a clean process that has imported this module once,
        # not as copies of this one (its threads, its open connections).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        super().__init__(max_workers=workers, mp_context=context)
        self.workers = workers

    def start(self) -> None:
        """Start every worker now (blocks while the forkserver imports the engine: over a
        second), not at the first task that finds none idle."""
        for _ in range(self.workers):
            self.submit(int)


def workers_of(req: RunRequest) -> int:
    return req.workers if req.workers is not None else min(MAX_WORKERS, os.cpu_count() or 1)


def partitions(conn, req: RunRequest) -> list[tuple[int, int]]:
    """The run's id ranges: of req.partition_size ids, or fewer, so that each worker has one."""
    ranges = frames.id_ranges(conn, req.partition_size)
    workers = workers_of(req) if req.dask_address is None else 1
    span = ranges[-1][1] - ranges[0][0] if ranges else 0
    if len(ranges) < workers and span >= SPLIT_FOR_WORKERS_FROM:
        return frames.id_ranges(conn, -(-span // workers))
    return ranges


@contextlib.contextmanager
def local_pool(req: RunRequest, partitions: int):
    """Worker processes on this machine for a run of several partitions (None: this process)."""
    workers = workers_of(req)
    if workers <= 1 or partitions <= 1 or req.dask_address is not None:
        yield None
        return
    pool = _Pool(workers)
    try:
        yield pool
    finally:  # after a failure, the partitions not yet begun are not begun
        pool.shutdown(wait=True, cancel_futures=True)


def _sample_ranges(ranges, model_sample: int | None, block: int = 5_000) -> list[tuple[int, int]]:
    """Where the model's training customers come from: every range, or blocks of ``block``
    ids spread evenly over the whole id space (old and new customers alike)."""
    if not ranges or model_sample is None:
        return list(ranges)
    lo, hi = ranges[0][0], ranges[-1][1]
    blocks = -(-model_sample // block)
    if blocks * block >= hi - lo:
        return list(ranges)
    step = (hi - lo) / blocks
    return [(int(lo + i * step), int(lo + i * step) + block) for i in range(blocks)]


def _training_rows(conn, blocks, as_of: dt.date, policy: TierPolicy) -> list[training.Frames]:
    """The model's training data of the customers in ``blocks`` (crm.jobs.training)."""
    return [training.read_block(conn, lo, hi, as_of, policy) for lo, hi in blocks]


def portfolio_pass(
    database: Database, ranges, req: RunRequest, policy: TierPolicy, beat: Beat | None, fit: bool = True, pool=None
):
    """Pass 1: the portfolio loss ratio over everyone (summed by the database), and (if ``fit``)
    a model fitted on a sample of customers over the three years before the as-of date.

    Four things at once: two threads have the database sum the totals, each on a connection of
    its own (the driver lets go of the GIL while it waits), another starts the pool's workers
    (its forkserver imports the engine in a process of its own, over a second), and this thread
    reads the sample and fits."""
    sample = _sample_ranges(ranges, req.model_sample) if fit and ranges else []
    with concurrent.futures.ThreadPoolExecutor(3) as background:
        sums = frames.portfolio_sums(database.dialect, req.as_of, policy)
        totals = [background.submit(_summed_by, database, statement) for statement in sums]
        started = background.submit(pool.start) if pool is not None else None
        parts = []
        with database.engine.connect() as conn:
            for i in range(0, len(sample), 10):
                parts.extend(_training_rows(conn, sample[i : i + 10], req.as_of, policy))
                _tick(beat, int(30 * min(i + 10, len(sample)) / len(sample)), "portfolio statistics")
        plr = portfolio_lr_from_totals(*(total.result() for total in totals))
        # In id order, as a single pass reads them: the same rows, the same model.
        model = fit_model(training.training_frame(parts, req.as_of, policy), policy) if parts else None
        if started is not None:
            started.result()  # the workers are up (or their failure is this run's)
    return plr, model


def _summed_by(database: Database, statement) -> int:
    """One of the portfolio's sums (frames.portfolio_sums), on a connection of its own (a thread's)."""
    with database.engine.connect() as conn:
        return int(conn.execute(statement).scalar_one())


@contextlib.contextmanager
def _own_connection(url: str):
    """A worker's (local or Dask) own engine and connection, disposed of after its task."""
    database = Database(url)
    try:
        with database.engine.connect() as conn:
            yield conn
    finally:
        database.dispose()


def _score_range(conn, lo: int, hi: int, as_of: dt.date, policy: TierPolicy, plr: float, model):
    """Score one partition against its stored state: (result, state)."""
    aggs = frames.load_aggregates(conn, lo, hi, as_of, policy)
    state, overrides = frames.load_state(conn, lo, hi, as_of)
    previous = state["computed_tier"] if not state.empty else None
    result = score_aggregates(aggs, as_of, policy, previous, overrides, model, plr)
    return result, state


_KEPT = ("tier", "reasons", "computed_tier", "computed_reasons", "value_score", "risk_score")
# Every set of reasons the engine gives (a tuple of codes), and its stored text's place in REASON_TEXTS
_REASONS = pd.Index(REASONS_OF_MASK, tupleize_cols=False)
_TEXT_CODE = np.array([REASON_TEXTS.index(";".join(reasons)) for reasons in REASONS_OF_MASK], dtype=np.int16)


def _changes(result: pd.DataFrame, state: pd.DataFrame) -> tuple[pd.DataFrame, dict, int]:
    """What a partition changed (memory O(changes)), its tier counts and its size."""
    old_tier = changed_customers(result, state)
    kept = result[list(_KEPT)]  # not the features
    changed = (kept if len(old_tier) == len(kept) else kept.loc[old_tier.index]).assign(old_tier=old_tier)
    # Kept until the run writes: categorical codes over fixed categories, not a Python object
    # per value (about 30 bytes a change).
    for column in ("tier", "computed_tier", "old_tier"):
        changed[column] = pd.Categorical(changed[column].astype(object), categories=TIERS)
    for column in ("reasons", "computed_reasons"):  # a lookup per change, not a join
        where = _REASONS.get_indexer(changed[column].to_numpy())
        if (where < 0).any():
            raise ValueError(f"{column} the engine does not give: {changed[column].to_numpy()[where < 0][0]!r}")
        changed[column] = pd.Categorical.from_codes(_TEXT_CODE[where], categories=REASON_TEXTS)
    return changed, result["tier"].value_counts().to_dict(), len(result)


def score_partition_remote(
    url: str, lo: int, hi: int, as_of: dt.date, policy: dict, plr: float, model: bytes
) -> tuple[pd.DataFrame, dict, int]:
    """One partition in a worker process (local or Dask): its own connection, the run's
    shared statistics."""
    with _own_connection(url) as conn:
        result, state = _score_range(
            conn, lo, hi, as_of, TierPolicy.from_dict(policy), plr, FittedModel.from_bytes(model)
        )
        postgres = conn.dialect.name == "postgresql"
    changed, counts, size = _changes(result, state)
    if postgres:  # the run's process, which writes every partition, then only sends the text
        # Imported here: the writing side (the ORM models, flask_login) would add 0.2 s to the
        # forkserver's start, which the workers wait for.
        from crm.jobs.write import render_stage

        render_stage(changed)
    return changed, counts, size


def iter_scored(
    database: Database, ranges, req: RunRequest, policy: TierPolicy, plr: float, model, beat: Beat | None = None
):
    """Pass 2, in this process: yields (result, state) per partition."""
    with database.engine.connect() as conn:
        for i, (lo, hi) in enumerate(ranges):
            yield _score_range(conn, lo, hi, req.as_of, policy, plr, model)
            _tick_scored(beat, i, len(ranges))


def _tick_scored(beat: Beat | None, i: int, partitions: int) -> None:
    """Pass 2 is 30% to 90% of a run: the (i+1)th of its partitions is scored."""
    _tick(beat, 30 + int(60 * (i + 1) / max(1, partitions)), "scoring")


def _as_they_finish(futures, as_completed, beat: Beat | None):
    """The workers' results (a pool's or Dask's futures), in the order they finish."""
    for i, future in enumerate(as_completed(futures)):
        yield future.result()
        _tick_scored(beat, i, len(futures))


def _iter_changes(
    database: Database, ranges, req: RunRequest, policy: TierPolicy, plr: float, model, beat: Beat | None, pool=None
):
    """Pass 2's per-partition changes: in this process, in a local pool of worker processes,
    or on a Dask cluster (the same results)."""
    if pool is not None:
        shared = (policy.to_dict(), model.to_bytes())
        futures = [
            pool.submit(score_partition_remote, database.url, lo, hi, req.as_of, shared[0], plr, shared[1])
            for lo, hi in ranges
        ]
        yield from _as_they_finish(futures, concurrent.futures.as_completed, beat)
        return
    if req.dask_address is None:
        for result, state in iter_scored(database, ranges, req, policy, plr, model, beat):
            yield _changes(result, state)
        return
    from distributed import Client, as_completed  # the optional extra crm[distributed]

    with Client(req.dask_address) as client:
        shared = client.scatter([policy.to_dict(), model.to_bytes()], broadcast=True)
        futures = [
            client.submit(
                score_partition_remote, database.url, lo, hi, req.as_of, shared[0], plr, shared[1], pure=False
            )
            for lo, hi in ranges
        ]
        yield from _as_they_finish(futures, as_completed, beat)


def score_pass(
    database: Database,
    ranges,
    req: RunRequest,
    policy: TierPolicy,
    plr: float,
    model,
    beat: Beat | None,
    pool=None,
    write=None,
):
    """Keep only what changed, partition by partition in id order (never concatenated: a
    first run changes everyone), and count the tiers. ``write`` (if given) is handed each
    partition's changes as soon as they are known."""
    changes, counts, customers = [], Counter(), 0
    for changed, tier_counts, n in _iter_changes(database, ranges, req, policy, plr, model, beat, pool):
        customers += n
        counts.update(tier_counts)
        if len(changed):
            changes.append(changed)
            if write is not None:
                write(changed)
    changes.sort(key=lambda part: part.index[0])  # workers hand partitions back as they finish
    return changes, counts, customers
