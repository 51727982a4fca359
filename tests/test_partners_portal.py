"""The merchant portal, the admin pages, the settlement CSV, the customer panel and the CLI."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from partners import codes, services
from partners.models import Coupon, Partner, PartnerApiKey, Redemption
from tests.clock_helpers import business_today
from tests.conftest import csrf_token
from tests.partners_helpers import ACTOR, issue, make_customer, make_partner, world  # noqa: F401


def _cashier(database, login_as, partner_id: int) -> int:
    user_id, email = login_as("partner_cashier")
    with database.transaction() as s:
        services.link_cashier(s, ACTOR, partner_id, email)
    return user_id


def _form(html: str, name: str) -> str:
    return re.search(rf'name="{name}" type="hidden" value="([^"]+)"', html).group(1)


def test_cashier_redeems_and_voids_with_csrf(client, login_as, database, world):
    _cashier(database, login_as, world["partner_id"])
    page = client.get(f"/merchant/?code={codes.display(world['code']).lower()}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="coupon-card"' in html and "王**" in html and "王小明" not in html
    data = {
        "code": _form(html, "code"),
        "idempotency_key": _form(html, "idempotency_key"),
        "amount": "",
        "store_id": "",
    }
    assert client.post("/merchant/redeem", data=data).status_code == 400  # no CSRF token
    data["csrf_token"] = _form(html, "csrf_token")
    r = client.post("/merchant/redeem", data=data)
    assert r.status_code == 303
    assert client.post("/merchant/redeem", data=data).status_code == 303  # a double submit redeems once
    with database.session() as s:
        redemption = s.scalar(select(Redemption))
        assert s.scalar(select(func.count()).select_from(Redemption)) == 1
    html = client.get("/merchant/").get_data(as_text=True)
    assert codes.display(world["code"]) in html and "Redeemed." in html
    token = csrf_token(client, "/merchant/")
    assert client.post(f"/merchant/redemptions/{redemption.id}/void").status_code == 400
    assert client.post(f"/merchant/redemptions/{redemption.id}/void", data={"csrf_token": token}).status_code == 303
    assert "can be used again" in client.get("/merchant/").get_data(as_text=True)
    with database.session() as s:
        assert s.scalar(select(Coupon.status).where(Coupon.code == world["code"])) == "issued"


def test_cashier_sees_only_their_partners_coupons(client, login_as, database, world):
    other_partner, _ = make_partner(database)
    _cashier(database, login_as, other_partner)
    html = client.get(f"/merchant/?code={world['code']}").get_data(as_text=True)
    assert 'id="coupon-card"' not in html and "There is no such coupon for your shop." in html
    unknown = client.get(f"/merchant/?code={codes.new_code()}").get_data(as_text=True)
    assert "There is no such coupon for your shop." in unknown
    bad = client.get("/merchant/?code=ABC")
    assert bad.status_code == 422
    with database.transaction() as s:  # a redemption of another partner cannot be voided here
        rid = s.execute(select(Coupon.id).where(Coupon.code == world["code"])).scalar_one()
        s.add(Redemption(coupon_id=rid, live_coupon_id=rid, partner_id=world["partner_id"], amount=1))
    with database.session() as s:
        red_id = s.scalar(select(Redemption.id))
    token = csrf_token(client, "/merchant/")
    assert client.post(f"/merchant/redemptions/{red_id}/void", data={"csrf_token": token}).status_code == 404


def test_unlinked_cashier_and_other_roles_are_refused(client, login_as):
    login_as("partner_cashier")
    assert client.get("/merchant/").status_code == 403
    assert client.get("/merchant/partners").status_code == 403


def test_admin_creates_a_partner_sees_the_key_once_and_settles(client, login_as, database, world):
    login_as("admin")
    token = csrf_token(client, "/merchant/partners")
    r = client.post("/merchant/partners", data={"name": "测试商户", "category": "hotel", "csrf_token": token})
    html = r.get_data(as_text=True)
    key = re.search(r"(pk_[0-9a-f]{12}_[A-Za-z0-9_\-]+)", html).group(1)
    with database.session() as s:
        stored = s.scalar(select(PartnerApiKey.key_hash).join(Partner).where(Partner.name == "测试商户"))
    assert key not in stored and len(stored) == 64
    assert key not in client.get("/merchant/partners").get_data(as_text=True)
    assert client.post("/merchant/partners", data={"name": "", "csrf_token": token}).status_code == 422
    with database.transaction() as s:
        partner = s.get(Partner, world["partner_id"])
        from partners.redeem import Channel, redeem

        redeem(s, partner, world["code"], None, None, "k", "h", channel=Channel(ACTOR, "api"), today=business_today())
    today = business_today()
    url = f"/merchant/settlement?partner={world['partner_id']}&start={today - dt.timedelta(days=1)}&end={today + dt.timedelta(days=1)}"
    assert "¥100.00" in client.get(url).get_data(as_text=True)
    csv = client.get(url + "&format=csv").get_data(as_text=True)
    lines = csv.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("redemption_id,code") and world["code"] in lines[1]
    assert lines[-1].startswith("total,,,,100.00")


def test_customer_panel_and_printable_coupon_with_qr(client, login_as, database):
    manager_id, _ = login_as("account_manager")
    customer_id = make_customer(database, manager_id=manager_id)
    stranger = make_customer(database)
    partner_id, _ = make_partner(database, "星巴克")
    code = issue(database, customer_id, partner_id)
    issue(database, stranger, partner_id)
    html = client.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert 'id="coupon-panel"' in html and codes.display(code)[:5] in html and "星巴克" in html
    assert codes.display(code) not in html  # masked: the full code is printed, audited
    with database.session() as s:
        mine = s.scalar(select(Coupon.id).where(Coupon.code == code))
        theirs = s.scalar(select(Coupon.id).where(Coupon.customer_id == stranger))
    page = client.post(f"/merchant/coupons/{mine}/print", data={"csrf_token": csrf_token(client, "/customers")})
    assert page.status_code == 200 and 'src="data:image/svg+xml;base64,' in page.get_data(as_text=True)
    assert client.get(f"/merchant/coupons/{theirs}/print").status_code == 404


def test_cli_create_and_issue(runner, database):
    r = runner.invoke(args=["partners", "create", "全家便利店", "--category", "shopping"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert re.fullmatch(r"partner_id: \d+", lines[0]) and re.fullmatch(r"api_key: pk_\S+", lines[1])
    partner_id = lines[0].split(": ")[1]
    customer_id = make_customer(database)
    with database.session() as s:
        from crm.models import Customer

        ref = s.get(Customer, customer_id).customer_ref
    r = runner.invoke(args=["coupons", "issue", "--customer", ref, "--partner", partner_id, "--value", "88.00"])
    assert r.exit_code == 0 and codes.is_valid(r.output.strip()) and len(r.output.splitlines()) == 1
    for bad in (
        ["--customer", "NOPE", "--partner", partner_id, "--value", "1"],
        ["--customer", ref, "--partner", "999", "--value", "1"],
        ["--customer", ref, "--partner", partner_id, "--value", "abc"],
        ["--customer", ref, "--partner", partner_id, "--value", "1", "--expires", "2000-01-01"],
    ):
        r = runner.invoke(args=["coupons", "issue", *bad])
        assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1, r.output
    assert runner.invoke(args=["partners", "create", "全家便利店"]).exit_code != 0
