"""`crm scheduler run`: the one process that runs periodic jobs.

Jobs are declared here, as data, with stable ids; `coalesce` and `max_instances=1` stop a
backlog from piling up, and each job guards itself in the database (the recalculation by the
unique run slot and a unique job key per day, an import job by a conditional UPDATE that
claims it), so a stray second scheduler does nothing.
Never started by the web app.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import signal
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import current_app, has_app_context

from crm import audit
from crm.clock import business_today
from crm.config import UPLOAD_DIR, Settings
from crm.db import Database
from crm.jobs import moves, recalc

log = logging.getLogger("crm.scheduler")


def scheduled_recalc(database: Database, settings: Settings) -> None:
    """The nightly recalculation, as of today in the insurer's zone; once per day, ever."""
    today = business_today(settings.timezone)
    req = recalc.RunRequest(
        as_of=today,
        actor=audit.Actor.job("scheduler:tiers"),
        trigger="scheduler",
        job_key=f"scheduled:{today.isoformat()}",
        policy_file=settings.tier_policy_file,
        workers=settings.recalc_workers,
        stale_after=_stale_after(settings),
    )
    try:
        summary = recalc.recalculate(database, req)
    except recalc.AlreadyRunning as exc:
        log.info("tier recalculation skipped: %s", exc)
        return
    except recalc.LostSlot as exc:  # taken for dead while stalled: another run's tiers stand
        log.error("tier recalculation discarded: %s", exc)
        return
    log.info("tier recalculation %s done: %s customers, %s changed", summary.run_id, summary.customers, summary.changed)


def _stale_after(settings: Settings) -> dt.timedelta:
    return dt.timedelta(seconds=settings.job_stale_seconds)


def queued_runs(database: Database, settings: Settings) -> None:
    """Runs requested from the web UI (previews and publications); first, a run whose process
    died is recorded failed (its page says so within a minute, and its slot is free)."""
    dead = recalc.free_stale_slot(database, stale_after=_stale_after(settings))
    if dead is not None:
        log.warning("tier run %s had no heartbeat for %s s: recorded failed", dead, settings.job_stale_seconds)
    recalc.process_queue(database, settings.recalc_workers, _stale_after(settings))


def queued_imports(database: Database, settings: Settings) -> None:
    """Uploads queued by the admin page: the oldest is claimed and imported (one at a time)."""
    from crm.imports import services as imports

    job = imports.run_next(database, UPLOAD_DIR, _stale_after(settings))
    if job is not None:
        log.info("import job %s (%s): %s", job.id, job.kind, job.state)


def undelivered_moves(database: Database, settings: Settings) -> None:
    """Moves of a committed run not yet delivered to the subscribers (its process died after
    the commit, or a subscriber failed): delivered now, in order. Raises moves.NoSubscribers
    in a scheduler that never imported the features (the batches wait for one that did)."""
    delivery = moves.deliver(database)
    if delivery.batches:
        log.info("delivered %s tier moves (%s batches) to the subscribers", delivery.moves, delivery.batches)
    if delivery.error:
        log.error("delivering tier moves failed, will try again: %s", delivery.error)


def jobs(settings: Settings) -> list[dict]:
    """Every periodic job, in one place: each func takes (database, settings)."""
    from crm import features

    zone = ZoneInfo(settings.timezone)
    own = [
        {
            "id": "tiers.recalculate",
            "func": scheduled_recalc,
            "trigger": CronTrigger.from_crontab(settings.recalc_cron, timezone=zone),
        },
        {"id": "tiers.queued_runs", "func": queued_runs, "trigger": IntervalTrigger(seconds=3, timezone=zone)},
        {"id": "imports.queued", "func": queued_imports, "trigger": IntervalTrigger(seconds=3, timezone=zone)},
        {
            "id": "tiers.undelivered_moves",
            "func": undelivered_moves,
            "trigger": IntervalTrigger(seconds=60, timezone=zone),
        },
    ]
    return own + [job for module in features.modules(features.JOBS) for job in module.JOBS]


class BusinessTimeFormatter(logging.Formatter):
    """Log lines stamped in the business time zone, with its offset (the server's zone is
    whatever the host was given: often UTC, eight hours off the insurer's day)."""

    def __init__(self, timezone: str):
        super().__init__("%(asctime)s %(name)s %(levelname)s %(message)s")
        self.zone = ZoneInfo(timezone)

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        return dt.datetime.fromtimestamp(record.created, self.zone).isoformat(sep=" ", timespec="seconds")


def configure_logging(timezone: str) -> None:
    """The scheduler's log for its operators: what the jobs did, in the business time zone;
    not APScheduler's lines for every job added and every run (the audit sealer runs every second)."""
    handler = logging.StreamHandler()
    handler.setFormatter(BusinessTimeFormatter(timezone))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its errors and missed runs only


def build(database: Database, settings: Settings) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=ZoneInfo(settings.timezone),
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    app = current_app._get_current_object() if has_app_context() else None
    for job in jobs(settings):
        func = _in_app_context(job["func"], app) if app is not None else job["func"]
        scheduler.add_job(func, job["trigger"], id=job["id"], args=(database, settings), replace_existing=True)
    return scheduler


def _in_app_context(func, app):
    """Each job in the app context of the command that started the scheduler: what a job writes
    for people (an import's problems) is translated, and translations need the app's Babel."""

    @functools.wraps(func)
    def run(*args):
        with app.app_context():
            return func(*args)

    return run


def run(database: Database, settings: Settings) -> None:
    """Run the jobs until SIGTERM or Ctrl-C; a job running then finishes before the process exits.

    No signal handler: the signals are blocked in every thread (the scheduler's threads inherit
    the mask) and this thread waits for one. A handler calling ``scheduler.shutdown()`` had
    deadlocked whenever the signal landed while the scheduler was handing a job to its pool.
    """
    scheduler = build(database, settings)
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    scheduler.start()
    log.info("started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    signal.sigwait(stop)
    log.info("stopping")
    scheduler.shutdown(wait=False)
