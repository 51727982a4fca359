"""Today in the business time zone: CRM_TIMEZONE decides the business date, never the
server's clock nor a zone of some module's own."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from crm import clock
from tests.conftest import csrf_token
from tests.review_helpers import cases, customer


def test_business_today_is_the_date_in_the_business_zone():
    instant = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    assert clock.business_today("America/New_York", now=instant) == dt.date(2026, 2, 28)
    assert clock.business_today("Asia/Shanghai", now=instant) == dt.date(2026, 3, 1)


def _zone_a_day_away(reference: str) -> str:
    """UTC-12 or UTC+14: one whose date now is not ``reference``'s (there always is one)."""
    now = dt.datetime.now(dt.UTC)
    for zone in ("Etc/GMT+12", "Etc/GMT-14"):
        if now.astimezone(ZoneInfo(zone)).date() != now.astimezone(ZoneInfo(reference)).date():
            return zone
    raise AssertionError("unreachable: UTC-12 and UTC+14 are 26 hours apart")


@pytest.fixture(params=["UTC", "Asia/Shanghai"])
def server_zone(request, monkeypatch):
    """The server's own clock (TZ) runs in UTC, or in the zone the code used to assume."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def app(db_url, server_zone):
    """The app with CRM_TIMEZONE a day away from the server's date (and from Shanghai's)."""
    from crm.app import create_app

    app = create_app({"env": "test", "database_url": db_url, "timezone": _zone_a_day_away(server_zone)})
    yield app
    app.extensions["crm_db"].dispose()
    clock.set_business_timezone(None)


def test_the_app_factory_sets_the_business_zone(app, server_zone):
    zone = app.config["CRM_SETTINGS"].timezone
    assert clock.business_today() == dt.datetime.now(ZoneInfo(zone)).date()
    assert clock.business_today() != dt.date.today()  # the server's date


def test_a_visit_may_be_logged_for_the_business_day_not_later(client, login_as, database, tmp_path):
    _, me = login_as("account_manager")
    cid = customer(database, tmp_path, manager=me)["id"]
    page = f"/customers/{cid}/visits/new"
    token = csrf_token(client, page)

    def log(day: dt.date):
        return client.post(
            page, data={"csrf_token": token, "kind": "call", "visit_date": day.isoformat(), "outcome": "回访满意"}
        )

    tomorrow = log(clock.business_today() + dt.timedelta(days=1))
    assert tomorrow.status_code == 422 and "A visit cannot be logged in advance." in tomorrow.get_data(as_text=True)
    assert log(clock.business_today()).status_code == 302


def test_late_entry_counts_the_days_to_the_business_date(client, login_as, database, tmp_path):
    login_as("underwriter")
    cust = customer(database, tmp_path)
    token = csrf_token(client, "/review/entry")
    today = clock.business_today()
    for policy_no, days_before in (("PM-ON-TIME", 30), ("PM-LATE", 31)):  # late after 30 days (the default)
        response = client.post(
            "/review/entry/policy",
            data={
                "p-csrf_token": token,
                "p-customer_ref": cust["customer_ref"],
                "p-policy_no": policy_no,
                "p-product_code": "LIFE-10",
                "p-product_type": "life",
                "p-start_date": (today - dt.timedelta(days=days_before)).isoformat(),
                "p-end_date": "2045-01-01",
                "p-term_years": "20",
                "p-payment_mode": "annual",
                "p-annual_premium": "8000.00",
                "p-status": "in_force",
            },
        )
        assert response.status_code == 302
    late = cases(database, reason="late_entry")
    assert [(c.detail_code, c.detail_params["days"], c.detail_params["start"]) for c in late] == [
        ("late_entry", 31, (today - dt.timedelta(days=31)).isoformat())
    ]
