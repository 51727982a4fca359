"""A job's heartbeat: the sign, every few seconds, that the process running it is alive.

A tier run or an import job holds its slot (its row, state 'running') until it ends. If its
process is killed (kill -9, a lost machine) nobody frees the slot, so a running row whose
heartbeat is older than the stale window (a minute by default) is taken for dead by the next
one who looks (crm.jobs.recalc.free_stale_slot, crm.jobs.imports.free_stale_jobs).

The beat comes from a thread, on a connection of its own, not from the job's progress: a job
may spend minutes in one statement or one partition's scoring and show no progress while
alive. One mechanism for both databases (a PostgreSQL advisory lock would die with its
connection, but SQLite has none). A beat only touches a row that is still 'running': a job
declared dead stays dead (a paused process that resumes past the window must not commit
either: see the fence in crm.jobs.recalc.execute's final update).

On SQLite a beat waits for the write lock like every writer: while the job's own transaction
holds it (a run's final write, an import's write pass) the beats wait, and so does anyone
who would declare the job dead, since that too takes the write lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Iterator

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from crm.db import Database, utcnow

log = logging.getLogger("crm.jobs")

STALE_AFTER = dt.timedelta(seconds=60)
BEATS_PER_WINDOW = 12  # a beat every 5 s for the default window: a few late beats are no death


def interval(stale_after: dt.timedelta) -> float:
    """Seconds between two beats for a stale window."""
    return max(0.05, stale_after.total_seconds() / BEATS_PER_WINDOW)


def beat_once(database: Database, model, row_id: int) -> bool:
    """Record one beat of the job ``row_id`` (a row of ``model``, which has ``state`` and
    ``heartbeat_at``); False if the job is no longer running (it was declared dead)."""
    with database.transaction() as session:
        return bool(
            session.execute(
                update(model).where(model.id == row_id, model.state == "running").values(heartbeat_at=utcnow())
            ).rowcount
        )


@contextlib.contextmanager
def beating(database: Database, model, row_id: int, stale_after: dt.timedelta = STALE_AFTER) -> Iterator[None]:
    """Beat for the job ``row_id`` from a thread while the block runs. Leave the block only
    after the job's transaction has ended: on SQLite a beat may be waiting for the lock it holds."""
    stop = threading.Event()

    def run() -> None:
        every = interval(stale_after)
        while not stop.wait(every):
            try:
                if not beat_once(database, model, row_id):
                    # Ended: by its own final update (a beat that waited for it), or declared dead.
                    log.info("%s %s is no longer running: its heartbeat stops", model.__tablename__, row_id)
                    return
            except SQLAlchemyError as exc:  # the database busy or away for a moment: beat again later
                log.debug("heartbeat of %s %s missed: %s", model.__tablename__, row_id, type(exc).__name__)

    thread = threading.Thread(target=run, name=f"heartbeat-{model.__tablename__}-{row_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
