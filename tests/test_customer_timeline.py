"""The customer page's timeline and "what next": every kind of event of the customer, newest
first, with names (not e-mails), filterable and paginated; another manager's customer is 404."""

from __future__ import annotations

import datetime as dt
import re

from crm.models import Customer
from tests.clock_helpers import business_today
from tests.conftest import csrf_token
from tests.day_helpers import log_visit, open_case, tier_run
from tests.factories import customer_row, policy_row
from tests.partners_helpers import issue, make_partner
from tests.workspace_helpers import load


def _customer(database, tmp_path, manager: str) -> tuple[int, int]:
    row = customer_row(name="周客户", account_manager=manager)
    ids = load(database, tmp_path, [row], [policy_row(row["customer_ref"])])
    cid = ids[row["customer_ref"]]
    with database.session() as s:
        return cid, s.get(Customer, cid).policies[0].id


def _card(html: str) -> str:
    start = html.index('id="timeline"')
    return html[start : html.index('<div class="card mb-3">', start)]


def _timeline(html: str) -> list[str]:
    block = _card(html)
    return re.findall(r'data-action="([^"]+)"', block)


def test_the_timeline_tells_every_kind_of_event_newest_first_with_names(client, auth, make_user, database, tmp_path):
    _, manager = make_user("account_manager", full_name="李经理")
    cid, policy_id = _customer(database, tmp_path, manager)
    day = business_today()
    run = tier_run(database, {cid: "standard"})
    tier_run(database, {cid: "vip"})
    partner, _key = make_partner(database, "海底捞")
    issue(database, cid, partner)
    log_visit(database, manager, cid, "回访体检结果", day + dt.timedelta(days=5))
    open_case(database, cid, policy_id, day + dt.timedelta(days=3))

    auth.login(manager)
    client.post(f"/customers/{cid}/reveal", data={"csrf_token": csrf_token(client, f"/customers/{cid}")})
    html = client.get(f"/customers/{cid}").get_data(as_text=True)
    actions = _timeline(html)
    assert actions[0] == "pii.reveal"  # the newest first
    for action in ("tier.run", "coupon.issued", "visit.logged", "case.opened", "import.completed"):
        assert action in actions, action
    assert actions.index("tier.run") < actions.index("import.completed")  # the import came first
    assert actions.count("tier.run") == 2  # first tier, then standard → VIP
    timeline = _card(html)
    assert "李经理" in timeline and manager not in timeline  # names, never e-mails
    assert f"Tier run {run}" in timeline and "Suspected fraud" not in timeline
    assert "High annual premium" in timeline  # the move's reasons
    what_next = html[html.index('id="what-next"') : html.index('id="timeline"')]
    assert "回访体检结果" in what_next and 'data-what="cases"' in what_next and 'data-what="benefit"' in what_next


def test_the_timeline_filters_by_kind_and_pages(client, auth, make_user, database, tmp_path):
    _, manager = make_user("account_manager")
    cid, _policy = _customer(database, tmp_path, manager)
    partner, _key = make_partner(database)
    issue(database, cid, partner)
    for n in range(23):
        log_visit(database, manager, cid, f"第{n}步")

    auth.login(manager)
    coupons = _timeline(client.get(f"/customers/{cid}?timeline=coupon").get_data(as_text=True))
    assert coupons == ["coupon.issued"]
    first = client.get(f"/customers/{cid}?timeline=visit").get_data(as_text=True)
    second = client.get(f"/customers/{cid}?timeline=visit&timeline_page=1").get_data(as_text=True)
    assert _timeline(first) == ["visit.logged"] * 20 and 'id="timeline-older"' in first
    assert _timeline(second) == ["visit.logged"] * 3 and 'id="timeline-older"' not in second
    assert client.get(f"/customers/{cid}?timeline_page=x").status_code == 400


def test_another_managers_customer_and_its_timeline_are_not_found(client, auth, make_user, database, tmp_path):
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    cid, _policy = _customer(database, tmp_path, other)
    log_visit(database, other, cid, "别人的回访", business_today() + dt.timedelta(days=1))
    auth.login(mine)
    for path in (f"/customers/{cid}", f"/customers/{cid}?timeline=visit", f"/customers/{cid}?timeline_page=1"):
        response = client.get(path)
        assert response.status_code == 404 and "别人的回访" not in response.get_data(as_text=True)
