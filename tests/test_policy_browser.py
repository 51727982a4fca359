"""The tier-policy editor's dry run in a real browser (Debian's Chromium via Playwright), in
both languages: an admin lowers the VIP premium, asks who would move, reads the moves between
tiers, and nothing is saved; publishing a run asks first. Screenshots:
test-artifacts/screenshots/policy-preview-*.png."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from crm.demo import seed_demo
from crm.models import TierPolicyVersion, TierRun
from tests.browser import _shot, _user, live_app, page  # noqa: F401  (fixtures)
from tests.test_day_browser import _log_in, _to_chinese

pytestmark = pytest.mark.browser


def _count(database, model) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def _dry_run(page, base, premium: str) -> None:
    page.goto(base + "/tiers/policy")
    page.fill("#v_premium", premium)
    page.click("#policy-preview-button")
    page.locator("#policy-preview").wait_for(state="visible", timeout=120_000)


def test_an_admin_previews_a_policy_change_in_both_languages(live_app, page):  # noqa: F811
    base, app = live_app
    database = app.extensions["crm_db"]
    seed_demo(database, 80, seed=4, as_of=dt.date(2026, 11, 24))
    email = _user(app, "admin", "policy@browser.crm")
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, base, email)

    page.goto(base + "/tiers/policy")
    card = page.locator("[data-parameter=v_premium]")
    assert "VIP: annual premium" in card.inner_text() and "¥" in card.inner_text()
    assert "High annual premium" in card.locator(".policy-feeds").inner_text()
    runs = _count(database, TierRun)
    _dry_run(page, base, "8000")
    preview = page.locator("#policy-preview")
    assert preview.locator("#preview-moves tr[data-move='standard→vip']").count() == 1
    assert "would change tier" in page.locator("#preview-summary").inner_text()
    assert page.input_value("#v_premium") == "8000"  # the draft stays in the form, unsaved
    preview.scroll_into_view_if_needed()
    _shot(page, "policy-preview-en")
    assert _count(database, TierPolicyVersion) == 0 and _count(database, TierRun) == runs + 1

    # Publishing asks first: dismissed, nothing is queued.
    page.goto(base + "/tiers/runs")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#publish-button")
    page.wait_for_load_state()
    assert page.url == base + "/tiers/runs" and _count(database, TierRun) == runs + 1

    _to_chinese(page)
    page.goto(base + "/tiers/policy")
    assert "贵宾：年缴保费" in page.locator("[data-parameter=v_premium]").inner_text()
    _dry_run(page, base, "8000")
    assert "位客户中将有" in page.locator("#preview-summary").inner_text()
    assert page.locator("#preview-moves tr[data-move='standard→vip']").count() == 1
    page.locator("#policy-preview").scroll_into_view_if_needed()
    _shot(page, "policy-preview-zh")
    assert _count(database, TierPolicyVersion) == 0
