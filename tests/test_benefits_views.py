"""Benefit pages: the versioned catalogue (admins only), providers, reports, roles, the panel warning."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from sqlalchemy import func, select

from crm.benefits import ceiling, health
from crm.clock import business_today
from crm.models import AuditEvent, Customer
from crm.models.benefits import BenefitCatalogueVersion
from tests.benefits_helpers import ACTOR, beyond_ceiling, make_customers, move
from tests.conftest import csrf_token


def test_catalogue_changes_are_new_audited_versions_by_admins_only(client, auth, make_user, database):
    _, manager_email = make_user("account_manager")
    _, admin_email = make_user("admin")
    auth.login(manager_email)
    assert client.get("/benefits/catalogue").status_code == 403
    auth.logout()
    auth.login(admin_email)
    page = client.get("/benefits/catalogue").get_data(as_text=True)
    assert "vip_coupons" in page and "defaults, not saved yet" in page
    token = csrf_token(client, "/benefits/catalogue")
    edit = client.get("/benefits/catalogue/benefit?code=vip_coupons").get_data(as_text=True)
    assert 'value="vip_coupons"' in edit
    form = {
        "csrf_token": token,
        "code": "vip_coupons",
        "tier": "vip",
        "kind": "partner_coupon",
        "quota": "6",
        "period": "quarter",
        "unit_cost": "80.00",
        "face_value": "80.00",
        "cover_limit_usd": "",
        "note": "more, smaller coupons",
    }
    assert client.post("/benefits/catalogue/benefit", data={**form, "quota": "0"}).status_code == 422
    assert client.post("/benefits/catalogue/benefit", data={**form, "face_value": ""}).status_code == 422
    assert client.post("/benefits/catalogue/benefit", data=form).status_code == 302
    policy = {
        "csrf_token": token,
        "cost_ceiling_pct": "4.5",
        "assistance_provider": "环球紧急救援",
        "note": "tighter ceiling",
    }
    assert client.post("/benefits/catalogue/policy", data=policy).status_code == 302
    assert (
        client.post(
            "/benefits/catalogue/benefit/vip_appointments/remove", data={"csrf_token": token, "note": "not offered"}
        ).status_code
        == 302
    )
    with database.session() as s:
        versions = list(s.scalars(select(BenefitCatalogueVersion).order_by(BenefitCatalogueVersion.version)))
        assert [v.version for v in versions] == [1, 2, 3]
        latest = json.loads(versions[-1].settings)
        assert latest["cost_ceiling_pct"] == "4.50" and not latest["void_coupons_on_exit"]
        assert {b["code"]: b["quota"] for b in latest["benefits"]} == {
            "vip_checkup": 1,
            "vip_coupons": 6,
            "vip_assistance": 1,
        }
        events = list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == "benefits.catalogue_saved").order_by(AuditEvent.seq)
            )
        )
        assert len(events) == 3 and '"quota":4' in events[0].before and '"quota":6' in events[0].after
    assert "version 3" in client.get("/benefits/catalogue").get_data(as_text=True)


def test_admin_manages_checkup_providers(client, login_as, database):
    login_as("admin")
    token = csrf_token(client, "/benefits/providers")
    assert (
        client.post(
            "/benefits/providers", data={"csrf_token": token, "hospital": "", "package": "x", "price": "1"}
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/benefits/providers",
            data={
                "csrf_token": token,
                "hospital": "四川大学华西医院健康管理中心",
                "package": "全面健康评估",
                "city": "成都",
                "price": "2380.00",
            },
        ).status_code
        == 302
    )
    page = client.get("/benefits/providers").get_data(as_text=True)
    assert "华西医院" in page
    provider_id = re.search(r"/benefits/providers/(\d+)/active", page).group(1)
    client.post(f"/benefits/providers/{provider_id}/active", data={"csrf_token": token, "active": "0"})
    with database.session() as s:
        assert health.providers(s) == []


def test_reports_and_the_panel_warn_about_the_cost_ceiling(client, auth, make_user, database):
    manager_id, manager_email = make_user("account_manager")
    today = business_today()
    [cid] = make_customers(database, 1, manager_id, premium="4000.00")  # ceiling 200; assistance alone costs 300
    move(database, [cid], "vip", today)
    with database.transaction() as s:
        provider = health.add_provider(s, ACTOR, "北京协和医院体检中心", "尊享深度体检套餐", "北京", Decimal("3680.00"))
    beyond_ceiling(
        database,
        lambda s: health.book(
            s, ACTOR, manager_id, s.get(Customer, cid), "checkup", today, today, provider_id=provider.id
        ),
    )
    auth.login(manager_email)
    page = client.get(f"/customers/{cid}").get_data(as_text=True)
    assert 'id="cost-warning"' in page and 'id="benefits-panel"' in page
    cost = client.get("/benefits/cost").get_data(as_text=True)
    assert 'id="over-ceiling"' in cost and f"/customers/{cid}" in cost and "data-payload" in cost
    utilisation = client.get("/benefits/utilisation").get_data(as_text=True)
    assert 'data-code="vip_checkup"' in utilisation and "js/benefits.js" in utilisation
    assert client.get("/benefits/bookings").status_code == 200
    assert client.get("/benefits/assistance").status_code == 200
    assert client.get(f"/benefits/customers/{cid}/coupon").status_code == 200
    assert client.get(f"/benefits/customers/{cid}/assistance").status_code == 200
    token = csrf_token(client, f"/benefits/customers/{cid}/appointment")
    appointment = {
        "csrf_token": token,
        "hospital": "北京大学人民医院",
        "department": "心内科",
        "preferred_date": today.isoformat(),
    }
    refused = client.post(f"/benefits/customers/{cid}/appointment", data=appointment)  # over the ceiling already
    assert refused.status_code == 422 and "An approval was requested" in refused.get_data(as_text=True)
    with database.session() as s:
        [request] = ceiling.open_requests(s)
    auth.logout()
    auth.login(make_user("risk_officer")[1])
    assert f'data-id="{request.id}"' in client.get("/benefits/cost").get_data(as_text=True)
    decided = client.post(
        f"/benefits/ceiling-exceptions/{request.id}/approve", data={"csrf_token": csrf_token(client, "/benefits/cost")}
    )
    assert decided.status_code == 303
    auth.logout()
    auth.login(manager_email)
    token = csrf_token(client, f"/benefits/customers/{cid}/appointment")
    appointment["csrf_token"] = token
    assert client.post(f"/benefits/customers/{cid}/appointment", data=appointment).status_code == 302
    client.post("/language", data={"locale": "zh", "csrf_token": token, "next": "/customers"})
    assert client.get(f"/customers/{cid}").status_code == 200
    assert client.get("/benefits/bookings").status_code == 200
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "pii.health_view")) == 0


def test_roles_outside_the_service_are_refused(client, login_as, database):
    [cid] = make_customers(database, 1)
    login_as("claims_reviewer")
    assert client.get("/benefits/cost").status_code == 403
    assert client.get("/benefits/assistance").status_code == 403
    assert client.get(f"/benefits/customers/{cid}/checkup").status_code == 403
    assert client.get("/benefits/bookings").status_code == 403
