"""Dates for tests: the business date as the app sees it, not the server's.

The app's "today" is the date in its business time zone (CRM_TIMEZONE, Asia/Shanghai by
default); ``date.today()`` is the server's, a day behind from 16:00 UTC, so a test that mixes
the two fails for eight hours a day.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from crm.config import load_settings


def business_today(zone: str | None = None) -> dt.date:
    """Today in ``zone`` (default: the test configuration's business time zone)."""
    zone = zone or load_settings({"env": "test"}).timezone
    return dt.datetime.now(ZoneInfo(zone)).date()
