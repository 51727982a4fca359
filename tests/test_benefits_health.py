"""Health bookings: the unit is taken on booking, returned on cancel; details masked and logged."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.benefits import health
from crm.benefits.services import BenefitError
from crm.clock import business_today
from crm.models import AuditEvent, Customer
from crm.models.benefits import BenefitUse, HealthBooking
from tests.benefits_helpers import ACTOR, AS_OF, balance, entries, make_customers, move
from tests.conftest import csrf_token

HOSPITAL = "北京协和医院体检中心"


def _provider(database, price="2680.00") -> int:
    with database.transaction() as s:
        return health.add_provider(s, ACTOR, HOSPITAL, "尊享深度体检套餐", "北京", Decimal(price)).id


def _book(database, cid, provider_id, user_id):
    with database.transaction() as s:
        return health.book(
            s,
            ACTOR,
            user_id,
            s.get(Customer, cid),
            "checkup",
            AS_OF + dt.timedelta(days=7),
            AS_OF,
            provider_id=provider_id,
        ).id


def _to(database, booking_id, state):
    with database.transaction() as s:
        health.transition(s, ACTOR, booking_id, state, AS_OF)


def test_booking_takes_the_unit_cancel_returns_it_attendance_records_the_cost(database, make_user):
    manager_id, _ = make_user("account_manager")
    [cid] = make_customers(database, 1, manager_id)
    move(database, [cid], "vip")
    provider_id = _provider(database)
    first = _book(database, cid, provider_id, manager_id)
    assert balance(database, cid, "vip_checkup") == 0
    with pytest.raises(BenefitError, match="no entitlement left"):
        _book(database, cid, provider_id, manager_id)
    _to(database, first, "cancelled")
    assert balance(database, cid, "vip_checkup") == 1
    assert [e[1:3] for e in entries(database, cid, "vip_checkup")] == [("grant", 1), ("consume", -1), ("return", 1)]
    with pytest.raises(BenefitError, match="cannot become"):
        _to(database, first, "attended")
    second = _book(database, cid, provider_id, manager_id)
    _to(database, second, "confirmed")
    _to(database, second, "no_show")
    assert balance(database, cid, "vip_checkup") == 0
    with database.session() as s:
        use = s.scalar(select(BenefitUse).where(BenefitUse.source == "booking"))
        assert (use.source_id, use.cost, use.kind) == (second, Decimal("2680.00"), "health_checkup")
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "health_booking")))
        assert {"health.booking_requested", "health.booking_cancelled", "health.booking_no_show"} <= actions
        # hospital and package are health data: never in the audit trail
        assert not s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity_type == "health_booking", AuditEvent.after.contains("协和"))
        )


def test_two_concurrent_bookings_of_the_last_unit_give_one(database, make_user):
    manager_id, _ = make_user("account_manager")
    [cid] = make_customers(database, 1, manager_id)
    move(database, [cid], "vip")
    provider_id = _provider(database)
    results, barrier = [], threading.Barrier(4)

    def attempt():
        barrier.wait()
        try:
            results.append(_book(database, cid, provider_id, manager_id))
        except BenefitError as exc:
            results.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([r for r in results if isinstance(r, int)]) == 1, results
    assert balance(database, cid, "vip_checkup") == 0


def test_cancelling_after_leaving_vip_does_not_give_a_usable_unit(database, make_user):
    manager_id, _ = make_user("account_manager")
    [cid] = make_customers(database, 1, manager_id)
    move(database, [cid], "vip")
    booking = _book(database, cid, _provider(database), manager_id)
    move(database, [cid], "standard")
    _to(database, booking, "cancelled")
    assert balance(database, cid, "vip_checkup") == 0
    move(database, [cid], "vip")  # back in the same year: the returned unit is restored
    assert balance(database, cid, "vip_checkup") == 1


def test_manager_books_on_the_web_and_others_see_the_booking_masked(app, client, auth, make_user, database):
    manager_id, manager_email = make_user("account_manager")
    _, underwriter_email = make_user("underwriter")
    _, other_email = make_user("account_manager")
    [cid] = make_customers(database, 1, manager_id)
    move(database, [cid], "vip", business_today())
    provider_id = _provider(database)
    auth.login(manager_email)
    page = client.get(f"/customers/{cid}").get_data(as_text=True)
    assert 'id="book-checkup"' in page
    token = csrf_token(client, f"/benefits/customers/{cid}/checkup")
    bad = client.post(
        f"/benefits/customers/{cid}/checkup",
        data={"csrf_token": token, "provider": provider_id, "preferred_date": "not a date"},
    )
    assert bad.status_code == 422
    ok = client.post(
        f"/benefits/customers/{cid}/checkup",
        data={
            "csrf_token": token,
            "provider": provider_id,
            "preferred_date": (business_today() + dt.timedelta(days=9)).isoformat(),
        },
    )
    assert ok.status_code == 302, ok.get_data(as_text=True)[:2000]
    with database.session() as s:
        assert s.scalar(select(HealthBooking.state)) == "requested"
    page = client.get(f"/customers/{cid}").get_data(as_text=True)
    assert "health booking" in page and HOSPITAL not in page
    details = client.post(f"/benefits/customers/{cid}/health", data={"csrf_token": token})
    assert details.status_code == 200 and HOSPITAL in details.get_data(as_text=True)
    with database.session() as s:
        view = s.scalar(select(AuditEvent).where(AuditEvent.action == "pii.health_view"))
        assert view.entity_id == str(cid) and view.actor_label == manager_email
    auth.logout()

    auth.login(underwriter_email)
    page = client.get(f"/customers/{cid}").get_data(as_text=True)
    assert "health booking" in page and HOSPITAL not in page and 'id="show-health"' not in page
    assert HOSPITAL not in client.get("/benefits/bookings").get_data(as_text=True)
    assert (
        client.post(
            f"/benefits/customers/{cid}/health", data={"csrf_token": csrf_token(client, "/customers")}
        ).status_code
        == 403
    )
    auth.logout()

    auth.login(other_email)  # another manager: the customer does not exist for them
    token = csrf_token(client, "/customers")
    assert client.post(f"/benefits/customers/{cid}/health", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/benefits/customers/{cid}/checkup").status_code == 404
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "pii.health_view")) == 1
