"""review: periodic jobs for the scheduler."""

from __future__ import annotations

import logging

from apscheduler.triggers.interval import IntervalTrigger

from crm import audit
from crm.review.assign import assign_open_cases
from crm.review.sla import current_settings

log = logging.getLogger("crm.review")


def auto_assign(database, settings) -> None:
    """When the review settings ask for it, give open cases to reviewers round-robin.

    Each assignment is a conditional update, so a second scheduler only finds nothing left.
    """
    with database.transaction() as session:
        if not current_settings(session).auto_assign:
            return
        actor = audit.Actor.job("scheduler:review")
        done = {queue: assign_open_cases(session, queue, actor) for queue in ("claims", "underwriting")}
    log.info("review cases assigned round-robin: %s", done)


JOBS: list = [{"id": "review.auto_assign", "func": auto_assign, "trigger": IntervalTrigger(minutes=5)}]
