"""The service team's KPIs on hand-made cases: new long-term regular premium counts only
business past its free-look period and still in force; 13-month persistency; time progress."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from crm.workspace.metrics import time_progress
from crm.workspace.snapshots import figures, take_snapshot
from tests.factories import customer_row, policy_row
from tests.workspace_helpers import ACTOR, AS_OF, load


def _life(ref: str, start: str, end: str, premium: str, **kw) -> dict:
    return policy_row(ref, start_date=start, end_date=end, term_years="20", annual_premium=premium, **kw)


def _portfolio(database, tmp_path, manager_email: str) -> None:
    a = customer_row(account_manager=manager_email)
    ref = a["customer_ref"]
    policies = [
        _life(ref, "2025-03-01", "2045-03-01", "10000.00"),  # counts
        _life(ref, "2025-06-20", "2045-06-20", "20000.00"),  # still in its free-look period
        _life(ref, "2025-02-01", "2025-02-10", "30000.00", status="cancelled"),  # cancelled within it
        _life(ref, "2025-01-10", "2025-03-18", "40000.00", status="lapsed"),  # lapsed after 67 days
        _life(ref, "2025-02-01", "2045-02-01", "50000.00", payment_mode="single"),  # single premium
        # 13-month persistency as of 2025-06-30: due when start + 13 months is in (2024-06-30, 2025-06-30].
        _life(ref, "2024-01-15", "2044-01-15", "1000.00"),  # due, kept
        _life(ref, "2024-03-10", "2025-01-10", "3000.00", status="lapsed"),  # due, lapsed before month 13
        _life(ref, "2024-05-31", "2044-05-31", "500.00"),  # due on the day, kept
        _life(ref, "2023-04-01", "2024-02-01", "7000.00", status="lapsed"),  # due before the 12 months
        _life(ref, "2024-06-15", "2044-06-15", "9000.00"),  # not due yet
    ]
    load(database, tmp_path, [a], policies)


def test_new_long_term_premium_counts_business_in_force_after_the_free_look(database, make_user, tmp_path):
    manager_id, email = make_user("account_manager")
    _portfolio(database, tmp_path, email)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    with database.session() as s:
        _, f = figures(s, f"manager:{manager_id}")
    assert f["long_term_new"]["premium"] == 10000.0 and f["long_term_new"]["policies"] == 1
    assert f["persistency_13m"]["due"] == 4500.0 and f["persistency_13m"]["kept"] == 1500.0


def test_targets_page_shows_time_progress_and_persistency(client, login_as, database, make_user, tmp_path):
    _, email = make_user("account_manager", full_name="李经理")
    _portfolio(database, tmp_path, email)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    login_as("admin")
    html = client.get("/workspace/targets?year=2025").get_data(as_text=True)
    assert "100.00%" in re.search(r'id="time-progress">(.*?)</p>', html, re.S).group(1)  # 2025 is over
    row = re.search(r"<tr><td>李经理</td>(.*?)</tr>", html.split('id="persistency-table"')[1], re.S).group(1)
    assert "4,500.00" in row and "1,500.00" in row and "33.33%" in row


@pytest.mark.parametrize(
    ("year", "day", "share"),
    [
        (2025, dt.date(2025, 8, 7), 219 / 365),
        (2025, dt.date(2024, 12, 31), 0.0),
        (2025, dt.date(2026, 1, 1), 1.0),
        (2025, dt.date(2025, 12, 31), 1.0),
        (2024, dt.date(2024, 2, 29), 60 / 366),
    ],
)
def test_time_progress_is_the_share_of_the_year_elapsed(year, day, share):
    assert time_progress(year, day) == pytest.approx(share)
