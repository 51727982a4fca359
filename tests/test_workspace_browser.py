"""The workspace in a real browser (Debian's Chromium via Playwright, as tests/test_browser.py):
an account manager opens the dashboard and the portfolio, finds a customer; screenshots of the
main pages go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.workspace.snapshots import take_snapshot
from tests.browser import _shot, _user, live_app, page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.workspace_helpers import ACTOR, AS_OF, set_tier, two_portfolios

pytestmark = pytest.mark.browser


def test_manager_dashboard_portfolio_and_customer(live_app, page, tmp_path):  # noqa: F811
    base, app = live_app
    database = app.extensions["crm_db"]
    email = _user(app, "account_manager", "wsam@browser.crm")
    other = _user(app, "account_manager", "wsother@browser.crm")
    ids = two_portfolios(database, tmp_path, email, other)
    set_tier(database, ids["a"], "vip", 88)
    set_tier(database, ids["b"], "standard", 40)
    take_snapshot(database, AS_OF, "browser", ACTOR)

    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.goto(base + "/dashboard")
    assert page.locator("#tile-customers").inner_text().endswith("2")
    page.wait_for_function(
        "document.querySelectorAll('canvas.ws-chart').length > 0 && "
        "Array.from(document.querySelectorAll('canvas.ws-chart')).every(c => c.width > 0)"
    )
    _shot(page, "workspace-dashboard")

    page.click("#menu-customers")  # the Customers menu holds the portfolio
    page.click("[data-endpoint='workspace.portfolio_page']")
    rows = page.locator("#portfolio-table tbody tr")
    assert rows.count() == 2
    assert "甲客户" in rows.nth(0).inner_text()  # the VIP first
    assert "丙客户" not in page.content()
    _shot(page, "workspace-portfolio")

    page.goto(base + "/customers")
    page.fill("#q", "乙")
    page.click("text=Search")
    page.click(f"text={ids['refs']['b']}")
    assert page.locator("h1").inner_text().startswith("乙客户")
    page.click("#log-visit")
    page.select_option("#kind", "call")
    page.fill("#outcome", "回访：客户满意")
    page.fill("#next_step", "寄送体检预约")
    page.fill("#next_step_due", page.input_value("#visit_date"))  # due today: on the reminder list
    page.click("#save-visit")
    expect(page.locator("#visits-panel").get_by_text("回访：客户满意")).to_be_visible()  # after the redirect
    _shot(page, "workspace-customer-360")

    page.goto(base + "/reports")
    expect(page.locator("#table-loss_ratio_tier")).to_be_visible()
    _shot(page, "workspace-reports")
    page.goto(base + "/workspace/visits")
    expect(page.locator("#due-follow-ups").get_by_text("寄送体检预约")).to_be_visible()
    _shot(page, "workspace-visits")
