"""The smaller points of issue 24: no decision chosen in advance, "Issue a coupon" disabled
when none are left, messages that say what was done, the tier explanation's amounts as money
and yes/no, loss ratios in CSV reports with 4 decimals."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from sqlalchemy import select

from crm import audit
from crm.jobs import recalc
from crm.models import Customer, CustomerTier, TierOverride, User
from crm.tiers import overrides as ov
from crm.workspace.snapshots import take_snapshot
from tests.benefits_helpers import make_customers, move
from tests.clock_helpers import business_today
from tests.conftest import csrf_token
from tests.review_helpers import cases, claimable_case, customer
from tests.workspace_helpers import ACTOR, AS_OF, two_portfolios


def test_a_decision_is_not_chosen_in_advance(client, login_as, database, tmp_path):
    login_as("claims_reviewer")
    case = claimable_case(database, tmp_path)
    page = f"/review/cases/{case.id}"
    token = csrf_token(client, page)
    client.post(f"{page}/claim", data={"csrf_token": token})
    html = client.get(page).get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="decision".*?</select>', html, re.S).group(0)
    assert "selected" not in select_html and '<option value="">' in select_html
    response = client.post(f"{page}/decide", data={"csrf_token": token, "decision": "", "reason": "looked at it"})
    assert response.status_code == 422 and "Choose a decision." in response.get_data(as_text=True)
    assert cases(database)[0].state == "in_review"


def test_issue_a_coupon_is_disabled_when_none_are_left(client, auth, make_user, database):
    from tests.partners_helpers import make_partner

    manager_id, manager_email = make_user("account_manager")
    [cid] = make_customers(database, 1, manager_id)
    move(database, [cid], "vip", business_today())
    partner, _key = make_partner(database)
    auth.login(manager_email)
    page = f"/customers/{cid}"
    assert re.search(r'<a class="btn btn-outline-primary" id="issue-coupon"', client.get(page).get_data(as_text=True))
    form = f"/benefits/customers/{cid}/coupon"
    for _ in range(10):
        html = client.get(page).get_data(as_text=True)
        if re.search(r'<button[^>]*id="issue-coupon"[^>]*disabled', html):
            break
        expires = (business_today() + dt.timedelta(days=30)).isoformat()
        client.post(form, data={"csrf_token": csrf_token(client, form), "partner": partner, "expires_on": expires})
    else:
        raise AssertionError("the button stayed enabled")
    assert 'data-benefit="vip_coupons">0 /' in html and "No coupons left in this period" in html


def test_deciding_an_override_says_what_was_done(client, auth, make_user, database, tmp_path):
    cust = customer(database, tmp_path, tier="watchlist")
    first_id, first = make_user("risk_officer")
    _second_id, second = make_user("risk_officer")
    with database.transaction() as s:
        user = s.get(User, first_id)
        ov.request_override(
            s,
            audit.Actor.for_user(user),
            user,
            cust["id"],
            "standard",
            "cleared",
            business_today() + dt.timedelta(days=30),
            business_today(),
        )
    with database.session() as s:
        override_id = s.scalar(select(TierOverride.id))
    auth.login(second)
    token = csrf_token(client, "/tiers/overrides")
    response = client.post(
        f"/tiers/overrides/{override_id}/approve", data={"csrf_token": token, "reason": "ok"}, follow_redirects=True
    )
    assert f"Override {override_id} approved: the pinned tier applies." in response.get_data(as_text=True)


def test_the_tier_explanation_writes_money_and_yes_no(client, auth, make_user, database):
    [cid] = make_customers(database, 1, premium="20914.00")
    recalc.recalculate(database, recalc.RunRequest(as_of=business_today(), actor=audit.Actor("system", "t")))
    with database.session() as s:
        assert s.get(CustomerTier, cid) is not None and s.get(Customer, cid) is not None
    auth.login(make_user("admin")[1])
    html = client.get(f"/customers/{cid}").get_data(as_text=True)
    assert 'data-feature="annual_premium">¥20,914.00<' in html
    assert 'data-feature="fraud_flag">no<' in html and "False" not in html
    assert "A further ¥29,086.00 of annual premium in force would make the customer a VIP" in html
    auth.logout()
    auth.login(make_user("admin", locale="zh")[1])
    zh = client.get(f"/customers/{cid}").get_data(as_text=True)
    assert "¥29,086.00" in zh and "A further" not in zh


def test_loss_ratios_in_report_csvs_have_four_decimals(client, login_as, database, tmp_path, make_user):
    login_as("risk_officer")
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    two_portfolios(database, tmp_path, mine, other)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    rows = list(
        csv.reader(io.StringIO(client.get("/reports/loss_ratio_tier.csv").get_data(as_text=True).lstrip("\ufeff")))
    )
    column = rows[0].index("loss_ratio")
    ratios = [r[column] for r in rows[1:] if r[column]]
    assert ratios and all(re.fullmatch(r"\d+\.\d{4}", r) for r in ratios), ratios


def test_the_dashboards_tier_trend_shows_each_runs_shares(client, login_as, database, tmp_path, make_user):
    import html as html_lib
    import json

    login_as("admin")
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    two_portfolios(database, tmp_path, mine, other)
    recalc.recalculate(database, recalc.RunRequest(as_of=AS_OF, actor=ACTOR))
    with database.session() as s:
        tiers = list(s.scalars(select(CustomerTier.tier)))
    html = client.get("/dashboard").get_data(as_text=True)
    chart = json.loads(html_lib.unescape(re.search(r'data-kind="trend" data-chart="([^"]+)"', html).group(1)))
    shares = [series[-1] for series in chart["series"]]  # the newest run: VIP, standard, watchlist
    expected = [round(tiers.count(t) / len(tiers), 4) for t in ("vip", "standard", "watchlist")]
    assert shares == expected and abs(sum(shares) - 1) < 0.001
