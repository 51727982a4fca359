"""The account manager's day and the navigation in a real browser (Debian's Chromium via
Playwright), in both languages: the start page, the customer timeline, and every role's menus
fitting 1280 px and collapsing behind a toggle at 390 px. Screenshots: test-artifacts/screenshots/."""

from __future__ import annotations

import datetime as dt

import pytest

from crm.validators import ROLES
from tests.browser import _shot, _user, live_app, page  # noqa: F401  (fixtures)
from tests.clock_helpers import business_today
from tests.conftest import PASSWORD
from tests.day_helpers import log_visit, tier_run
from tests.factories import customer_row, policy_row
from tests.workspace_helpers import load

pytestmark = pytest.mark.browser

# Every visible element of the navigation bar (its open menu too) that ends beyond the viewport,
# and every link or button whose text wraps (a word broken a character per line is the worst case).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('#main-nav *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > width + 0.5) out.push('beyond: ' + (el.id || el.textContent.trim().slice(0, 30)) + ' ' + r.right);
  }
  for (const el of document.querySelectorAll('#main-nav a, #main-nav button')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || !el.textContent.trim()) continue;
    const lines = el.getClientRects().length;
    const style = getComputedStyle(el);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
    const pad = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    if (lines > 1 || r.height - pad > line * 1.5) out.push('wraps: ' + el.textContent.trim().slice(0, 30));
  }
  return out;
}"""


def _log_in(page, base, email):
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_load_state()


def _to_chinese(page):
    page.click("#user-menu-toggle")
    page.click("button[data-locale=zh]")
    page.wait_for_load_state()


@pytest.mark.parametrize("role", ROLES)
def test_every_roles_navigation_fits_1280_and_collapses_at_390(live_app, page, role):  # noqa: F811
    base, app = live_app
    email = _user(app, role, f"{role}@nav.crm")
    if role == "partner_cashier":
        from partners import services
        from tests.partners_helpers import ACTOR, make_partner

        database = app.extensions["crm_db"]
        partner, _key = make_partner(database)
        with database.transaction() as session:
            services.link_cashier(session, ACTOR, partner, email)
    _log_in(page, base, email)
    for locale in ("en", "zh"):
        if locale == "zh":
            page.set_viewport_size({"width": 1280, "height": 800})
            _to_chinese(page)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(base + "/account/password")
        assert page.locator("#nav-toggle").is_hidden(), (role, locale)
        assert page.evaluate(OVERFLOW) == [], (role, locale)
        for menu in page.locator("#main-nav .dropdown-toggle").all():  # each menu open in turn
            menu.click()
            assert page.evaluate(OVERFLOW) == [], (role, locale, menu.inner_text())
            if role == "admin" and menu.get_attribute("id") == "user-menu-toggle":
                _shot(page, f"nav-admin-1280-{locale}")
            menu.click()
        page.set_viewport_size({"width": 390, "height": 800})
        page.goto(base + "/account/password")
        assert page.locator("#nav-toggle").is_visible() and page.locator("#nav").is_hidden(), (role, locale)
        page.click("#nav-toggle")
        page.locator("#nav").wait_for(state="visible")
        page.locator("#user-menu-toggle").wait_for(state="visible")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (role, locale)
        assert page.evaluate(OVERFLOW) == [], (role, locale)
        if role in ("admin", "account_manager"):
            _shot(page, f"nav-{role}-390-{locale}")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click("#user-menu-toggle")
    page.click("#logout")
    page.wait_for_load_state()
    assert "/login" in page.url, role  # the log-out button works from the menu


def test_an_account_managers_day_and_a_customers_timeline(live_app, page, tmp_path):  # noqa: F811
    base, app = live_app
    from tests.partners_helpers import issue, make_partner

    database = app.extensions["crm_db"]
    email = _user(app, "account_manager", "day@browser.crm")
    day = business_today()
    row = customer_row(name="欧阳客户", account_manager=email)
    ends = (day + dt.timedelta(days=20)).isoformat()
    policy = policy_row(row["customer_ref"], start_date=(day - dt.timedelta(days=345)).isoformat(), end_date=ends)
    policy["term_years"] = "1"
    cid = load(database, tmp_path, [row], [policy])[row["customer_ref"]]
    tier_run(database, {cid: "standard"})
    tier_run(database, {cid: "vip"})
    partner, _key = make_partner(database, "全聚德")
    issue(database, cid, partner)
    log_visit(database, email, cid, "约体检时间", day + dt.timedelta(days=1))

    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, base, email)
    assert page.url == base + "/today"
    for block in ("today-follow-ups", "today-renewals", "today-unused", "today-moves"):
        assert page.locator(f"#{block} a[href='/customers/{cid}']").count() >= 1, block
    assert page.locator("#today-cases-empty").is_visible()
    _shot(page, "today-en")

    page.click(f"#today-moves a[href='/customers/{cid}']")
    page.wait_for_url(f"{base}/customers/{cid}")
    timeline = page.locator("#timeline")
    for action in ("tier.run", "coupon.issued", "visit.logged"):
        assert timeline.locator(f"[data-action='{action}']").count() >= 1, action
    assert "全聚德" in timeline.inner_text() and "约体检时间" in page.locator("#what-next").inner_text()
    timeline.scroll_into_view_if_needed()
    _shot(page, "timeline-en")
    page.click("#timeline [data-kind=coupon]")
    page.wait_for_url(f"{base}/customers/{cid}?timeline=coupon#timeline")
    assert page.locator("#timeline .timeline-event").count() == 1

    _to_chinese(page)
    page.goto(f"{base}/customers/{cid}")
    assert "时间线" in page.locator("#timeline").inner_text()
    assert "贵宾" in page.locator("#timeline [data-action='tier.run']").first.inner_text()
    _shot(page, "timeline-zh")
    page.goto(base + "/today")
    assert "今日" in page.locator("h1").inner_text()
    _shot(page, "today-zh")
