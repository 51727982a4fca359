"""Taking and reading report snapshots: the dashboard's and the reports' only source of
portfolio-wide figures.

A snapshot is taken by the daily job, at the end of the demo seed and by `crm workspace
snapshot`; each has a unique key, so the daily job runs at most once a day whoever starts it.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import audit
from crm.db import Database, utcnow
from crm.models import TierRun
from crm.models.workspace import ReportFigures, ReportSnapshot
from crm.workspace import warnings
from crm.workspace.reports import all_scopes, compute_cubes


class SnapshotExists(Exception):
    """A snapshot with this key was taken already (e.g. today's daily snapshot)."""


def take_snapshot(database: Database, as_of: dt.date, key: str, actor: audit.Actor) -> int:
    """Compute every scope's figures as of ``as_of`` and store them; returns the snapshot id.

    The figures are computed in a read transaction, then written in one short write
    transaction (the unique key is the guard). Raises SnapshotExists.
    """
    with database.session() as session:
        if session.scalar(select(ReportSnapshot.id).where(ReportSnapshot.key == key)) is not None:
            raise SnapshotExists(key)
        run_id = latest_run_id(session)
        scopes = _scopes(session, as_of)
    try:
        with database.transaction() as session:
            return store(session, actor, key, as_of, run_id, scopes)
    except IntegrityError:
        raise SnapshotExists(key) from None


def take_in(session: Session, actor: audit.Actor, key: str, as_of: dt.date) -> int:
    """take_snapshot inside the caller's (write) transaction, for a request; raises SnapshotExists."""
    scopes = _scopes(session, as_of)
    try:
        return store(session, actor, key, as_of, latest_run_id(session), scopes)
    except IntegrityError:  # the caller's transaction is spoilt: it rolls back
        raise SnapshotExists(key) from None


def _scopes(session: Session, as_of: dt.date) -> dict[str, dict]:
    """Every scope's figures, with the early warnings the thresholds in force call for."""
    scopes = all_scopes(compute_cubes(session.connection(), as_of), as_of)
    version, thresholds = warnings.current(session)
    warnings.evaluate(scopes, thresholds, warnings.overdue_cases(session, as_of))
    for scope in scopes.values():
        scope["warning_thresholds_version"] = version
    return scopes


def store(
    session: Session, actor: audit.Actor, key: str, as_of: dt.date, run_id: int | None, scopes: dict[str, dict]
) -> int:
    """Write a snapshot and its scopes, audited; never commits."""
    snapshot = ReportSnapshot(key=key, as_of=as_of, run_id=run_id, created_by=actor.label, created_at=utcnow())
    session.add(snapshot)
    session.flush()
    session.execute(
        insert(ReportFigures),
        [
            {"snapshot_id": snapshot.id, "scope": scope, "payload": json.dumps(payload, ensure_ascii=False)}
            for scope, payload in scopes.items()
        ],
    )
    audit.record(
        session,
        actor,
        audit.Change(
            "reports.snapshot",
            "report_snapshot",
            snapshot.id,
            None,
            {"key": key, "as_of": as_of, "run_id": run_id, "scopes": len(scopes)},
        ),
    )
    return snapshot.id


def latest_run_id(session: Session) -> int | None:
    return session.scalar(
        select(TierRun.id)
        .where(TierRun.state == "completed", TierRun.mode == "publish")
        .order_by(TierRun.id.desc())
        .limit(1)
    )


def latest(session: Session) -> ReportSnapshot | None:
    return session.scalar(select(ReportSnapshot).order_by(ReportSnapshot.id.desc()).limit(1))


def figures(session: Session, scope: str) -> tuple[ReportSnapshot | None, dict | None]:
    """The newest snapshot and its figures for ``scope`` ('all' or 'manager:ID'); (None, None) before any."""
    snapshot = latest(session)
    if snapshot is None:
        return None, None
    payload = session.scalar(
        select(ReportFigures.payload).where(ReportFigures.snapshot_id == snapshot.id, ReportFigures.scope == scope)
    )
    return snapshot, (json.loads(payload) if payload else None)


def scope_history(session: Session, scope: str, limit: int = 12) -> list[tuple[dt.date, dict]]:
    """(as_of, figures) of the newest snapshots of one scope, oldest first (for trend charts)."""
    rows = session.execute(
        select(ReportSnapshot.as_of, ReportFigures.payload)
        .join(ReportFigures, ReportFigures.snapshot_id == ReportSnapshot.id)
        .where(ReportFigures.scope == scope)
        .order_by(ReportSnapshot.id.desc())
        .limit(limit)
    ).all()
    return [(as_of, json.loads(payload)) for as_of, payload in reversed(rows)]


def scope_for(user) -> str:
    """The figures a user may read: an account manager only their own portfolio's."""
    return f"manager:{user.id}" if user.role == "account_manager" else "all"
