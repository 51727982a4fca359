"""The work lists (issue 24): the review queues, the open overrides and the tier runs sort by
a column, say how many rows there are, export what is shown as CSV, and name people and
customers rather than showing ids or e-mail addresses."""

from __future__ import annotations

import csv
import datetime as dt
import html as html_lib
import io
import json
import re

from sqlalchemy import select

from crm.audit import Actor
from crm.models import TierRun, User
from crm.tiers import overrides as ov
from tests.clock_helpers import business_today
from tests.review_helpers import cases, claim, customer, policy


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def _count(html: str) -> int:
    return int(re.search(r'id="list-count" data-count="(\d+)"', html).group(1))


def _claims(database, tmp_path, amounts):
    for amount in amounts:
        cust = customer(database, tmp_path)
        pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
        claim(database, tmp_path, pol, claimed_amount=amount)
    return cases(database, queue="claims")


def test_the_claims_queue_sorts_counts_and_exports(client, login_as, database, tmp_path):
    made = _claims(database, tmp_path, ["60000.00", "90000.00", "75000.00"])
    assert len(made) == 3
    login_as("claims_reviewer")
    html = client.get("/review/claims?sort=-amount").get_data(as_text=True)
    amounts = re.findall(r'class="text-end claimed-amount">([^<]+)<', html)
    assert amounts == ["¥90,000.00", "¥75,000.00", "¥60,000.00"] and _count(html) == 3
    assert 'aria-sort="descending" data-sort-key="amount"' in html
    rows = _csv(client.get("/review/claims/export?sort=amount"))
    assert rows[0][:5] == ["Case", "Reason", "Customer", "Reference", "Claimed amount"]
    assert [r[4] for r in rows[1:]] == ["60000.00", "75000.00", "90000.00"]
    assert client.get("/review/claims?sort=password_hash").status_code == 400


def test_a_queue_is_exported_only_to_its_viewers(client, login_as):
    login_as("underwriter")
    assert client.get("/review/claims/export").status_code == 403
    assert client.get("/review/underwriting/export").status_code == 200


def test_overrides_name_the_customer_and_the_requester(client, login_as, make_user, database, tmp_path):
    cust = customer(database, tmp_path, tier="standard", name="欧阳锋")
    requester_id, requester_email = make_user("risk_officer", full_name="王审核")
    with database.transaction() as s:
        requester = s.get(User, requester_id)
        ov.request_override(
            s,
            Actor.for_user(requester),
            requester,
            cust["id"],
            "vip",
            "key account",
            business_today() + dt.timedelta(days=30),
            business_today(),
        )
    login_as("admin")
    html = client.get("/tiers/overrides?sort=customer").get_data(as_text=True)
    assert "欧阳锋" in html and "王审核" in html and requester_email not in html and _count(html) == 1
    rows = _csv(client.get("/tiers/overrides/export?sort=-until"))
    assert rows[1][1] == "欧阳锋" and rows[1][7] == "王审核" and rows[1][3] == "VIP"


def test_the_requester_is_not_offered_the_approval(client, auth, make_user, database, tmp_path):
    cust = customer(database, tmp_path, tier="watchlist")
    requester_id, requester_email = make_user("risk_officer", full_name="李风控")
    with database.transaction() as s:
        requester = s.get(User, requester_id)
        ov.request_override(
            s,
            Actor.for_user(requester),
            requester,
            cust["id"],
            "standard",
            "cleared",
            business_today() + dt.timedelta(days=30),
            business_today(),
        )
    auth.login(requester_email)
    own = client.get("/tiers/overrides").get_data(as_text=True)
    assert "approve-override" not in own and "own-request" in own
    auth.logout()
    _other, other_email = make_user("risk_officer")
    auth.login(other_email)
    assert "approve-override" in client.get("/tiers/overrides").get_data(as_text=True)


def test_runs_sort_count_export_and_name_who_started_them(client, login_as, make_user, database):
    _id, starter = make_user("risk_officer", full_name="赵分析")
    with database.transaction() as s:
        for n, ratio in ((10, 0.61234567), (30, None), (20, 1.5)):
            s.add(
                TierRun(
                    mode="publish",
                    state="completed",
                    trigger="ui",
                    started_by=starter,
                    as_of=dt.date(2026, 11, 24),
                    customers=n,
                    portfolio_loss_ratio=ratio,
                )
            )
    login_as("risk_officer")
    html = client.get("/tiers/runs?sort=-customers").get_data(as_text=True)
    assert _count(html) == 3 and "赵分析" in html and starter not in html
    body = html[html.index('id="runs-table"') :]
    assert [int(n) for n in re.findall(r'<td class="text-end">(\d+)</td><td class="text-end">0</td>', body)] == [
        30,
        20,
        10,
    ]
    # Two runs as of the same day are two points of the trend, each labelled with its run.
    with database.session() as s:
        ids = list(s.scalars(select(TierRun.id).order_by(TierRun.id)))
    chart = json.loads(html_lib.unescape(re.search(r'data-chart="([^"]+)"', html).group(1)))
    assert chart["labels"] == [f"Run {i} · 2026-11-24" for i in ids]
    rows = _csv(client.get("/tiers/runs/export?sort=customers"))
    assert [r[7] for r in rows[1:]] == ["10", "20", "30"]
    assert rows[1][4] == "赵分析" and rows[1][10] == "0.6123" and rows[2][10] == "1.5000" and rows[3][10] == ""
