"""The account manager's start page: each block shows their own customers' work, and says so
when there is none; the dashboard shows their moves and which run or snapshot each figure is from."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from crm.models import Policy
from tests.clock_helpers import business_today
from tests.day_helpers import log_visit, open_case, tier_run
from tests.factories import customer_row, policy_row
from tests.workspace_helpers import load


def _portfolio(database, tmp_path, mine: str, other: str) -> dict:
    day = business_today()
    a, b = customer_row(name="甲客户", account_manager=mine), customer_row(name="乙客户", account_manager=mine)
    c = customer_row(name="丙客户", account_manager=other)
    soon = (day + dt.timedelta(days=12)).isoformat()
    late = (day + dt.timedelta(days=90)).isoformat()
    start = (day - dt.timedelta(days=300)).isoformat()
    policies = [
        policy_row(a["customer_ref"], start_date=start, end_date=soon, term_years="1", annual_premium="300000.00"),
        policy_row(b["customer_ref"], start_date=start, end_date=late, term_years="1"),
        policy_row(c["customer_ref"], start_date=start, end_date=soon, term_years="1"),
    ]
    ids = load(database, tmp_path, [a, b, c], policies)
    with database.session() as s:
        pols = {p.customer_id: p for p in s.scalars(select(Policy))}
    return {
        "a": ids[a["customer_ref"]],
        "b": ids[b["customer_ref"]],
        "c": ids[c["customer_ref"]],
        "policy": {cid: (p.id, p.policy_no) for cid, p in pols.items()},
    }


def _block(html: str, block: str) -> str:
    start = html.index(f'id="{block}"')
    end = html.find('<div class="col-xl-6">', start)
    return html[start : end if end > 0 else len(html)]


def test_a_managers_start_page_shows_each_block_of_their_own_customers(client, auth, make_user, database, tmp_path):
    _, mine = make_user("account_manager", full_name="李经理")
    _, other = make_user("account_manager")
    ids = _portfolio(database, tmp_path, mine, other)
    day = business_today()
    tier_run(database, {ids["a"]: "standard", ids["b"]: "standard", ids["c"]: "standard"})
    run = tier_run(database, {ids["a"]: "vip", ids["b"]: "watchlist", ids["c"]: "vip"})
    log_visit(database, mine, ids["a"], "送体检券", day + dt.timedelta(days=2))
    log_visit(database, other, ids["c"], "别人的回访", day + dt.timedelta(days=1))
    case = open_case(database, ids["b"], ids["policy"][ids["b"]][0], day + dt.timedelta(days=3))
    open_case(database, ids["c"], ids["policy"][ids["c"]][0], day + dt.timedelta(days=3))

    auth.login(mine)
    assert client.get("/").headers["Location"].endswith("/today")  # their landing page
    html = client.get("/today").get_data(as_text=True)

    follow_ups = _block(html, "today-follow-ups")
    assert "送体检券" in follow_ups and "别人的回访" not in follow_ups
    renewals = _block(html, "today-renewals")
    assert ids["policy"][ids["a"]][1] in renewals  # ends in 12 days
    assert ids["policy"][ids["b"]][1] not in renewals  # in 90
    assert ids["policy"][ids["c"]][1] not in renewals  # another manager's
    unused = _block(html, "today-unused")  # the VIP grant of the run, nothing used yet
    assert f"/customers/{ids['a']}" in unused and f"/customers/{ids['c']}" not in unused
    moves = _block(html, "today-moves")
    assert f'data-customer="{ids["a"]}"' in moves and f'data-customer="{ids["b"]}"' in moves
    assert f'data-customer="{ids["c"]}"' not in moves and f"tier run {run}" in moves
    cases = _block(html, "today-cases")
    assert re.findall(r'data-case="(\d+)"', cases) == [str(case)]
    assert f"/review/cases/{case}" in cases
    assert 'id="today-warnings"' in html


def test_each_block_says_when_there_is_nothing(client, login_as):
    login_as("account_manager")
    html = client.get("/today").get_data(as_text=True)
    for block in ("today-follow-ups", "today-renewals", "today-unused", "today-moves", "today-cases", "today-warnings"):
        assert f'id="{block}-empty"' in html, block


def test_the_start_page_is_the_account_managers_only(client, login_as):
    login_as("underwriter")
    assert client.get("/today").status_code == 403
    assert client.get("/").headers["Location"].endswith("/dashboard")


def test_dashboard_shows_the_managers_moves_and_where_each_figure_comes_from(
    client, auth, make_user, database, tmp_path
):
    from crm.workspace.snapshots import take_snapshot
    from tests.workspace_helpers import ACTOR

    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    ids = _portfolio(database, tmp_path, mine, other)
    first = tier_run(database, {ids["a"]: "standard", ids["b"]: "standard", ids["c"]: "standard"})
    take_snapshot(database, business_today(), "after-first", ACTOR)
    second = tier_run(database, {ids["a"]: "vip", ids["c"]: "vip"})
    third = tier_run(database, {ids["b"]: "watchlist"})

    auth.login(mine)
    html = client.get("/dashboard").get_data(as_text=True)
    assert "No tier moves recorded yet" not in html
    assert f"taken after tier run {first}" in html  # the snapshot says which run it follows
    assert f"Moves: tier run {third}" in html and 'id="snapshot-behind"' in html
    assert re.findall(r'data-move="([^"]+)"', html) == ["standard→watchlist"]  # run 3, their customer b only
    assert second != third
