"""A cashier in a real browser (Debian's Chromium driven by Playwright): log in, scan, redeem, void."""

from __future__ import annotations

import threading

import pytest

from crm.audit import Actor
from crm.auth.services import create_user
from partners import codes, services
from tests.browser import _shot, page  # noqa: F401  (the same Chromium set-up)
from tests.conftest import PASSWORD
from tests.partners_helpers import issue, make_customer, make_partner

pytestmark = pytest.mark.browser


@pytest.fixture
def live(sqlite_url):
    from werkzeug.serving import make_server

    from crm.app import create_app

    app = create_app({"env": "test", "database_url": sqlite_url})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app.extensions["crm_db"]
    server.shutdown()
    app.extensions["crm_db"].dispose()


def test_cashier_logs_in_redeems_and_voids(live, page):  # noqa: F811
    base, database = live
    partner_id, _ = make_partner(database, "海底捞火锅")
    code = issue(database, make_customer(database, name="欧阳娜娜"), partner_id, value="200.00")
    with database.transaction() as session:
        create_user(session, Actor("system", "tests"), "cashier@browser.crm", "partner_cashier", PASSWORD)
        services.link_cashier(session, Actor("system", "tests"), partner_id, "cashier@browser.crm")

    page.goto(base + "/login")
    page.fill("input[name=email]", "cashier@browser.crm")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.goto(base + "/merchant/")
    page.fill("#code", codes.display(code).lower())  # as a scanner or a person types it
    page.press("#code", "Enter")
    page.wait_for_selector("#coupon-card")
    assert "欧***" in page.content() and "欧阳娜娜" not in page.content()
    assert page.locator("#coupon-status").inner_text() == "Valid"
    _shot(page, "portal-coupon")

    page.click("#redeem-submit")
    page.wait_for_selector(".alert-success")
    assert page.locator(".alert-success").inner_text() == "Redeemed."
    assert page.locator("#coupon-status").inner_text() == "Redeemed"
    assert codes.display(code) in page.locator("#today-table").inner_text()
    _shot(page, "portal-redeemed")

    page.on("dialog", lambda dialog: dialog.accept())  # "Void this redemption?"
    page.click("#today-table button:has-text('Void')")
    page.wait_for_selector(".alert-success")
    assert "can be used again" in page.locator(".alert-success").inner_text()
    assert "voided" in page.locator("#today-table").inner_text()
    _shot(page, "portal-voided")
