"""A coupon's full code works like cash (issue 19, item 13): staff see it masked; only the
customer's account manager and admins print it in full, and each print is audited."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm.models.audit import AuditEvent
from partners import codes
from partners.models import Coupon
from tests.conftest import csrf_token
from tests.partners_helpers import issue, make_customer, make_partner

QR = 'src="data:image/svg+xml;base64,'


@pytest.fixture
def coupon(database, make_user):
    manager_id, manager_email = make_user("account_manager")
    customer_id = make_customer(database, manager_id=manager_id)
    partner_id, _key = make_partner(database, "星巴克")
    code = issue(database, customer_id, partner_id)
    with database.session() as s:
        coupon_id = s.scalar(select(Coupon.id).where(Coupon.code == code))
    return {"id": coupon_id, "code": code, "customer_id": customer_id, "manager": manager_email}


def _prints(database) -> list[AuditEvent]:
    with database.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "coupon.print")))


def _hides_the_code(html: str, code: str) -> bool:
    return code not in html and codes.display(code) not in html and code[4:12] not in html and QR not in html


@pytest.mark.parametrize("role", ["underwriter", "claims_reviewer", "risk_officer"])
def test_other_staff_see_the_code_masked_and_cannot_print_it(client, login_as, database, coupon, role):
    login_as(role)
    masked = coupon["code"][:4] + "-****-****-" + coupon["code"][-2:]
    panel = client.get(f"/customers/{coupon['customer_id']}").get_data(as_text=True)
    assert masked in panel and _hides_the_code(panel, coupon["code"])
    page = client.get(f"/merchant/coupons/{coupon['id']}/print")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and masked in html and _hides_the_code(html, coupon["code"])
    assert 'id="show-code"' not in html and 'id="code-masked"' in html
    token = csrf_token(client, "/customers")
    refused = client.post(f"/merchant/coupons/{coupon['id']}/print", data={"csrf_token": token})
    assert refused.status_code == 403 and _hides_the_code(refused.get_data(as_text=True), coupon["code"])
    assert _prints(database) == []


@pytest.mark.parametrize("who", ["the manager", "admin"])
def test_the_account_manager_and_admins_print_the_full_code_audited(client, auth, make_user, database, coupon, who):
    email = coupon["manager"] if who == "the manager" else make_user("admin")[1]
    assert auth.login(email).status_code == 302
    page = client.get(f"/merchant/coupons/{coupon['id']}/print").get_data(as_text=True)
    assert 'id="show-code"' in page and _hides_the_code(page, coupon["code"])
    assert _prints(database) == []  # looking is not printing
    token = csrf_token(client, "/customers")
    printed = client.post(f"/merchant/coupons/{coupon['id']}/print", data={"csrf_token": token})
    html = printed.get_data(as_text=True)
    assert printed.status_code == 200 and codes.display(coupon["code"]) in html and QR in html
    [event] = _prints(database)
    assert (event.entity_type, event.entity_id, event.actor_label) == ("coupon", str(coupon["id"]), email)
    assert json.loads(event.after) == {"customer_id": coupon["customer_id"]}
    assert coupon["code"] not in (event.after or "") and coupon["code"][:4] not in (event.after or "")


def test_another_manager_neither_sees_nor_prints_the_coupon(client, login_as, database, coupon):
    login_as("account_manager")
    assert client.get(f"/merchant/coupons/{coupon['id']}/print").status_code == 404
    token = csrf_token(client, "/customers")
    assert client.post(f"/merchant/coupons/{coupon['id']}/print", data={"csrf_token": token}).status_code == 404
    assert _prints(database) == []


def test_printing_needs_the_form_token(client, auth, database, coupon):
    auth.login(coupon["manager"])
    assert client.post(f"/merchant/coupons/{coupon['id']}/print").status_code == 400
    assert _prints(database) == []
