"""The daily report snapshot, for the scheduler (crm/jobs/scheduler.py collects JOBS)."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from crm import audit
from crm.clock import business_today
from crm.config import Settings
from crm.db import Database
from crm.workspace.snapshots import SnapshotExists, take_snapshot

log = logging.getLogger("crm.workspace")


def daily_snapshot(database: Database, settings: Settings) -> None:
    """Today's report figures, once a day: the key 'daily:DATE' makes a second run a no-op."""
    today = business_today(settings.timezone)
    try:
        snapshot_id = take_snapshot(database, today, f"daily:{today.isoformat()}", audit.Actor.job("scheduler:reports"))
    except SnapshotExists:
        log.info("report snapshot of %s exists already", today)
        return
    log.info("report snapshot %s as of %s", snapshot_id, today)


# 05:30, after the nightly tier recalculation (its default cron runs earlier in the night).
JOBS = [
    {
        "id": "workspace.daily_snapshot",
        "func": daily_snapshot,
        "trigger": CronTrigger(hour=5, minute=30, timezone=ZoneInfo("Asia/Shanghai")),
    }
]
