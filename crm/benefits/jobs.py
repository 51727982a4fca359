"""benefits: the daily renewal, declared for the scheduler (crm/jobs/scheduler.py)."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from crm import audit
from crm.benefits import ledger
from crm.benefits.catalogue import current_catalogue
from crm.clock import business_today

log = logging.getLogger("crm.benefits")


def renew_entitlements(database, as_of: dt.date, actor: audit.Actor | None = None) -> int:
    """Grant the period's quota to everyone in a tier with benefits who has no grant for it yet.

    Idempotent: the grant key (customer, benefit, period) is unique, so a rerun or a second
    scheduler inserts nothing. Returns how many entries were inserted.
    """
    with database.transaction() as session:
        return ledger.renew(session, actor or audit.Actor.job("benefits:renew"), as_of, current_catalogue(session))


def scheduled_renewal(database, settings) -> None:
    today = business_today(settings.timezone)
    log.info("benefit renewal as of %s: %s entries", today, renew_entitlements(database, today))


# Daily, after the tier recalculation (02:00), so that new VIPs of the night are renewed too.
JOBS: list = [
    {
        "id": "benefits.renew",
        "func": scheduled_renewal,
        "trigger": CronTrigger(hour=3, minute=15, timezone=ZoneInfo("Asia/Shanghai")),
    }
]
