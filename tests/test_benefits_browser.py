"""In a real browser (Debian's Chromium through Playwright): an account manager books a checkup."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.audit import Actor
from crm.benefits import health
from crm.clock import business_today
from crm.models.benefits import HealthBooking
from tests.benefits_helpers import make_customers, move
from tests.browser import ARTIFACTS, live_app, page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_account_manager_books_a_checkup_for_their_vip(live_app, page):
    from crm.auth.services import create_user

    base, app = live_app
    database = app.extensions["crm_db"]
    with database.transaction() as session:
        manager = create_user(session, Actor("system", "tests"), "am-benefits@browser.crm", "account_manager", PASSWORD)
        manager_id = manager.id
        health.add_provider(
            session, Actor("system", "tests"), "上海瑞金医院健康管理中心", "VIP全面体检", "上海", Decimal("3280.00")
        )
    [cid] = make_customers(database, 1, manager_id)
    move(database, [cid], "vip", business_today())

    page.goto(base + "/login")
    page.fill("input[name=email]", "am-benefits@browser.crm")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(base + "/today")  # an account manager lands on today's work
    page.goto(f"{base}/customers/{cid}")
    assert page.locator("#benefits-panel").is_visible()
    assert page.locator("[data-benefit=vip_checkup]").inner_text().startswith("1")
    page.click("#book-checkup")
    page.select_option("select[name=provider]", label="上海瑞金医院健康管理中心 · VIP全面体检 · ¥3,280.00")
    page.fill("input[name=preferred_date]", (business_today() + dt.timedelta(days=10)).isoformat())
    page.click("#booking-submit")
    page.wait_for_url(f"{base}/customers/{cid}")
    assert page.locator(".alert-success").is_visible()
    assert page.locator("#health-bookings").inner_text().count("Requested") == 1
    assert page.locator("[data-benefit=vip_checkup]").inner_text().startswith("0")
    assert "瑞金" not in page.locator("#benefits-panel").inner_text()  # masked until asked for (logged)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "benefits-checkup-booked.png"), full_page=True)
    with database.session() as session:
        assert session.scalar(select(HealthBooking.state)) == "requested"
