"""Import jobs: store an upload, queue it, and run it once in the scheduler process.

The web request only stores the file (at most the configured size) and queues a job; the
scheduler (crm.jobs.scheduler, every few seconds) claims the oldest queued job with a
conditional UPDATE, so that a job runs once however many schedulers run, and imports it with
crm.importer.import_csv: all or nothing, in a transaction of its own. The job's page shows
its progress and then its outcome: the counts, or every problem in row order. A job whose
process died (its heartbeat stale: crm.jobs.heartbeat) is recorded as it ended: completed if
its import committed (its batch names the stored file), failed otherwise. The stored file is
deleted when the job ends.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask_babel import force_locale
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.db import Database, utcnow
from crm.importer import ImportFailed, import_csv
from crm.imports.models import ImportJob
from crm.jobs import heartbeat
from crm.models import ImportBatch, User

log = logging.getLogger("crm.imports")

MAX_WAITING = 5  # queued jobs at a time: their stored files are bounded too
PROGRESS_EVERY = 1.0  # seconds between two progress writes


class UploadRefused(Exception):
    """The upload is too large, or too many imports are waiting; nothing was queued."""


class JobAbandoned(Exception):
    """The job was declared dead while this process still ran it: its import must not commit."""


@dataclass(frozen=True)
class Upload:
    """A stored upload: its name under the upload directory and its size."""

    stored_name: str
    size_bytes: int


def store_upload(stream: BinaryIO, directory: Path, max_bytes: int) -> Upload:
    """Copy an uploaded file into ``directory`` under a name of our own, at most ``max_bytes``.

    Raises UploadRefused (nothing kept) if it is larger."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"upload-{secrets.token_hex(12)}.csv"
    path, size = directory / name, 0
    try:
        with open(path, "xb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRefused(f"the file is larger than {max_bytes // (1 << 20)} MiB")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    path.chmod(0o600)
    return Upload(name, size)


def queue_import(
    session: Session,
    actor: audit.Actor,
    kind: str,
    filename: str,
    upload: Upload,
    *,
    dry_run: bool = False,
    initial_load: bool = False,
    user_id: int | None = None,
    encoding: str = "utf-8",
) -> ImportJob:
    """Queue a stored upload for the scheduler, audited, in the caller's transaction.

    Raises UploadRefused if MAX_WAITING jobs are queued already."""
    waiting = session.scalar(select(func.count()).select_from(ImportJob).where(ImportJob.state == "queued"))
    if waiting >= MAX_WAITING:
        raise UploadRefused(f"{waiting} imports are waiting already")
    job = ImportJob(
        kind=kind,
        filename=(filename or "upload.csv")[:255],
        stored_name=upload.stored_name,
        size_bytes=upload.size_bytes,
        dry_run=dry_run,
        initial_load=initial_load,
        encoding=encoding,
        user_id=user_id,
        requested_by=actor.label,
        state="queued",
        phase="",
        progress=0,
        more_problems=0,
        queued_at=utcnow(),
    )
    session.add(job)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "import.queued",
            "import_job",
            job.id,
            None,
            {
                "kind": kind,
                "file": job.filename,
                "bytes": upload.size_bytes,
                "dry_run": dry_run,
                "initial_load": initial_load,
                "encoding": encoding,
            },
        ),
    )
    return job


def problems_of(job: ImportJob) -> list[str]:
    return json.loads(job.problems) if job.problems else []


def claim(database: Database, job_id: int) -> bool:
    """Take a queued job for this process: True for exactly one of any number of claimants."""
    with database.transaction() as session:
        now = utcnow()
        return bool(
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.state == "queued")
                .values(state="running", started_at=now, heartbeat_at=now, phase="validating")
            ).rowcount
        )


class _Progress:
    """The importer's progress callback: the job's bar (0-50 % validating, 50-100 % importing),
    written at most every PROGRESS_EVERY seconds on a connection of its own, and the fence: a
    job declared dead meanwhile stops its import (which then rolls back).

    On SQLite the write pass holds the write lock, so nothing is written during it (the bar
    stays at half way, the page says it is writing); the job's state is still read (WAL)."""

    def __init__(self, database: Database, job_id: int, dry_run: bool):
        self.database, self.job_id, self.dry_run = database, job_id, dry_run
        self.last, self.percent, self.shown = 0.0, -1, ""

    def __call__(self, done: int, total: int, phase: str) -> None:
        share = done / total if total else 1.0
        percent = int(share * 100) if self.dry_run else int(share * 50) + (50 if phase == "importing" else 0)
        # The end of pass 1, written before pass 2 begins (and, on SQLite, takes the write lock).
        shown = "importing" if phase == "validating" and done >= total and not self.dry_run else phase
        now = time.monotonic()
        if shown == self.shown and (percent == self.percent or now - self.last < PROGRESS_EVERY):
            return
        self.last, self.percent, self.shown = now, percent, shown
        if phase == "importing" and self.database.dialect == "sqlite":
            self._check_alive()
            return
        with self.database.transaction() as session:
            alive = session.execute(
                update(ImportJob)
                .where(ImportJob.id == self.job_id, ImportJob.state == "running")
                .values(progress=min(percent, 99), phase=shown)
            ).rowcount
        if not alive:
            raise JobAbandoned(f"import job {self.job_id} was declared dead")

    def _check_alive(self) -> None:
        with self.database.session() as session:
            if session.scalar(select(ImportJob.state).where(ImportJob.id == self.job_id)) != "running":
                raise JobAbandoned(f"import job {self.job_id} was declared dead")


def run_job(
    database: Database, directory: Path, job_id: int, stale_after: dt.timedelta = heartbeat.STALE_AFTER
) -> ImportJob | None:
    """Claim the job and run it; None if another process claimed it. Records the outcome
    (audited) and deletes the stored file."""
    if not claim(database, job_id):
        return None
    with database.session() as session:
        job = session.get(ImportJob, job_id)
        locale = session.scalar(select(User.locale).where(User.id == job.user_id)) if job.user_id else None
    actor = audit.Actor("user", job.requested_by, str(job.user_id) if job.user_id else None, "admin")
    path = directory / job.stored_name
    outcome: dict = {}
    try:
        # The problems are stored as text: in the language of the admin who will read them.
        with heartbeat.beating(database, ImportJob, job_id, stale_after), force_locale(locale or "en"):
            summary = import_csv(
                database,
                job.kind,
                path,
                actor,
                dry_run=job.dry_run,
                initial_load=job.initial_load,
                user_id=job.user_id,
                progress=_Progress(database, job_id, job.dry_run),
                encoding=job.encoding,
            )
        outcome = {
            "state": "completed",
            "rows": summary.rows,
            "created": summary.created,
            "updated": summary.updated,
            "batch_id": summary.batch_id,
            "changed_fields": json.dumps(dict(summary.fields), sort_keys=True),
        }
    except ImportFailed as exc:
        problems = exc.problems  # in row order (the importer sorts them, whatever the language)
        outcome = {"state": "failed", "problems": json.dumps(problems, ensure_ascii=False), "more_problems": exc.more}
    except JobAbandoned:
        log.warning("import job %s was declared dead while it ran: its import was rolled back", job_id)
        return _reload(database, job_id)
    except Exception as exc:  # noqa: BLE001 - recorded on the job, the scheduler goes on
        # The type alone: a message may quote the row it failed on, and rows hold personal data.
        log.error("import job %s failed: %s", job_id, type(exc).__name__)
        outcome = {"state": "failed", "error": f"error:{type(exc).__name__}"}
    finally:
        path.unlink(missing_ok=True)
    _finish(database, actor, job_id, outcome)
    return _reload(database, job_id)


def _finish(database: Database, actor: audit.Actor, job_id: int, outcome: dict) -> None:
    with database.transaction() as session:
        where = [ImportJob.id == job_id]
        if outcome["state"] == "failed":  # a committed import is a fact; a failure only ends a live job
            where.append(ImportJob.state == "running")
        if not session.execute(
            update(ImportJob).where(*where).values(**outcome, progress=100, finished_at=utcnow())
        ).rowcount:
            return
        after = {k: v for k, v in outcome.items() if k != "problems"}
        if "problems" in outcome:
            after["problems"] = len(json.loads(outcome["problems"])) + outcome.get("more_problems", 0)
        audit.record(session, actor, audit.Change(f"import.job_{outcome['state']}", "import_job", job_id, None, after))


def _reload(database: Database, job_id: int) -> ImportJob | None:
    with database.session() as session:
        return session.get(ImportJob, job_id)


def next_queued(database: Database) -> int | None:
    with database.session() as session:
        return session.scalar(select(ImportJob.id).where(ImportJob.state == "queued").order_by(ImportJob.id).limit(1))


def run_next(
    database: Database, directory: Path, stale_after: dt.timedelta = heartbeat.STALE_AFTER
) -> ImportJob | None:
    """The scheduler's job: record dead jobs, then run the oldest queued one, if any."""
    free_stale_jobs(database, directory, stale_after)
    job_id = next_queued(database)
    return run_job(database, directory, job_id, stale_after) if job_id is not None else None


def free_stale_jobs(
    database: Database,
    directory: Path,
    stale_after: dt.timedelta = heartbeat.STALE_AFTER,
    now: dt.datetime | None = None,
) -> list[int]:
    """Record each running job whose heartbeat is stale as it ended (completed if its import
    committed, else failed), and delete its file. Looks first without the write lock."""
    now = now or utcnow()
    stale = select(ImportJob).where(ImportJob.state == "running", ImportJob.heartbeat_at < now - stale_after)
    with database.session() as session:
        if session.scalar(stale.limit(1)) is None:
            return []
    ended = []
    with database.transaction() as session:
        for job in session.scalars(stale).all():
            batch = session.scalar(select(ImportBatch).where(ImportBatch.filename == job.stored_name))
            if batch is not None:
                outcome = {
                    "state": "completed",
                    "rows": batch.rows,
                    "created": batch.created,
                    "updated": batch.updated,
                    "batch_id": batch.id,
                }
            else:
                outcome = {"state": "failed", "error": "interrupted"}
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id, ImportJob.state == "running")
                .values(**outcome, progress=100, finished_at=now)
            )
            audit.record(
                session,
                audit.Actor.job("scheduler:imports"),
                audit.Change(
                    f"import.job_{outcome['state']}", "import_job", job.id, None, {**outcome, "abandoned": True}
                ),
            )
            (directory / job.stored_name).unlink(missing_ok=True)
            ended.append(job.id)
    return ended


def recent(session: Session, limit: int = 10) -> list[ImportJob]:
    return list(session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)))


def remove_stored(directory: Path, upload: Upload) -> None:
    """Delete a stored upload whose job was not queued after all."""
    (directory / upload.stored_name).unlink(missing_ok=True)
