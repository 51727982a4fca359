"""Partitions handed to Dask distributed give exactly what the in-process run gives."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm import audit
from crm.demo import seed_demo
from crm.jobs import recalc
from crm.models import CustomerTier

distributed = pytest.importorskip("distributed", reason="the crm[distributed] extra is not installed")
AS_OF = dt.date(2026, 11, 24)


def _stored(database) -> dict:
    with database.session() as s:
        return {
            t.customer_id: (t.tier, t.reasons, t.computed_tier, float(t.value_score), float(t.risk_score))
            for t in s.scalars(select(CustomerTier))
        }


def test_dask_partitions_equal_the_in_process_run(database):
    seed_demo(database, 300, seed=12, as_of=AS_OF)
    req = dict(as_of=AS_OF + dt.timedelta(days=200), actor=audit.Actor("system", "t"), partition_size=40)
    local = recalc.recalculate(database, recalc.RunRequest(**req, mode="preview"))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = recalc.recalculate(database, recalc.RunRequest(**req, dask_address=cluster, mode="preview"))
    assert (remote.changed, remote.counts, remote.moves) == (local.changed, local.counts, local.moves)
    table = CustomerTier.__table__
    with database.session() as s:  # both publications start from the same stored state
        start = [dict(r._mapping) for r in s.execute(select(table))]
    recalc.recalculate(database, recalc.RunRequest(**req))
    in_process = _stored(database)
    with database.transaction() as s:
        s.execute(table.delete())
        s.execute(table.insert(), start)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        recalc.recalculate(database, recalc.RunRequest(**req, dask_address=cluster))
    assert _stored(database) == in_process
