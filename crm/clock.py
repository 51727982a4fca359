"""Today in the business time zone: the one place that says what day it is for the business.

Times are stored in UTC; business dates (a benefit period, an SLA's working day, a coupon's
expiry, a run's as-of date) follow the insurer's calendar, whose day starts at midnight in
CRM_TIMEZONE — not on the server's clock, which may run in UTC eight hours behind Shanghai.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from crm.config import business_timezone_name

_zone_name: str | None = None  # set by the app factory from its settings; else CRM_TIMEZONE


def set_business_timezone(name: str | None) -> None:
    """Make ``name`` this process's business time zone (the app factory passes its setting;
    None: CRM_TIMEZONE again). Raises ZoneInfoNotFoundError (a KeyError) for an unknown zone.
    """
    global _zone_name
    if name is not None:
        ZoneInfo(name)
    _zone_name = name


def business_timezone(zone: str | None = None) -> ZoneInfo:
    """The business time zone (``zone`` when given, e.g. a job's settings.timezone)."""
    return ZoneInfo(zone or _zone_name or business_timezone_name())


def business_today(zone: str | None = None, now: dt.datetime | None = None) -> dt.date:
    """The business date now (or at ``now``, an aware datetime) in the business time zone."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(business_timezone(zone)).date()
