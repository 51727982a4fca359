"""Key journeys in a real browser: Debian's Chromium driven by Playwright, against a live server."""

from __future__ import annotations

import pytest

from crm.audit import Actor
from crm.importer import import_csv
from tests.browser import _shot, _user, live_app, page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.factories import customer_row, policy_row, write_csv

pytestmark = pytest.mark.browser


def test_manager_logs_in_finds_a_customer_and_switches_to_chinese(live_app, page, tmp_path):
    base, app = live_app
    email = _user(app, "account_manager", "am@browser.crm")
    row = customer_row(name="欧阳娜娜", account_manager=email)
    database = app.extensions["crm_db"]
    import_csv(
        database, "customers", write_csv(tmp_path / "c.csv", [row, customer_row(name="别人")]), Actor("system", "t")
    )
    import_csv(
        database, "policies", write_csv(tmp_path / "p.csv", [policy_row(row["customer_ref"])]), Actor("system", "t")
    )

    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(base + "/today")  # an account manager lands on today's work
    page.goto(base + "/customers")
    assert page.locator("#customer-table").is_visible()
    assert "别人" not in page.content()  # not in this manager's portfolio

    page.fill("#q", "欧阳")
    page.click("text=Search")
    page.click(f"text={row['customer_ref']}")
    assert page.locator("h1").inner_text().startswith("欧阳娜娜")
    assert row["id_number"] not in page.content()
    assert page.locator("text=LIFE-20").is_visible()
    _shot(page, "customer-page-en")

    page.click("#user-menu-toggle")  # the language is in the user's menu
    page.click("button[data-locale=zh]")
    page.wait_for_load_state()
    assert page.locator("text=基本资料").is_visible()
    assert page.get_by_role("columnheader", name="年缴保费").is_visible()
    _shot(page, "customer-page-zh")


def test_wrong_password_shows_a_field_error(live_app, page):
    base, app = live_app
    email = _user(app, "admin", "admin@browser.crm")
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "wrong-password-123")
    page.click("#login-submit")
    assert page.locator(".invalid-feedback").inner_text() == "Wrong e-mail or password."
    _shot(page, "login-error")
