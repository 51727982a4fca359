"""partners: the daily coupon expiry, for the scheduler (add "partners.jobs" to features.JOBS)."""

from __future__ import annotations

import logging

from apscheduler.triggers.interval import IntervalTrigger

from crm import audit
from crm.clock import business_today
from partners.services import expire_coupons

log = logging.getLogger("partners.jobs")


def expire_daily(database, settings) -> None:
    """Mark coupons whose last day has passed as expired; harmless when run twice (conditional UPDATE)."""
    today = business_today(settings.timezone)
    with database.transaction() as session:
        n = expire_coupons(session, audit.Actor.job("scheduler:coupons"), today)
    log.info("coupons expired: %s", n)


# Hourly rather than at local midnight: the job reads "today" in the configured zone itself, and
# a run that finds nothing to expire writes nothing.
JOBS = [{"id": "partners.expire_coupons", "func": expire_daily, "trigger": IntervalTrigger(hours=1)}]
