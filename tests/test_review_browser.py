"""A claims reviewer, in a real browser (Debian's Chromium via Playwright), claims a case and decides it."""

from __future__ import annotations

import pytest

from tests.browser import _shot, _user, live_app, page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.review_helpers import cases, claimable_case

pytestmark = pytest.mark.browser


def test_claims_reviewer_claims_and_decides_a_case(live_app, page, tmp_path):  # noqa: F811
    base, app = live_app
    database = app.extensions["crm_db"]
    email = _user(app, "claims_reviewer", "reviewer@browser.crm")
    case = claimable_case(database, tmp_path, tier="vip")

    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.goto(base + "/review/claims")
    assert page.locator(f"tr[data-case-id='{case.id}']").is_visible()
    assert page.locator("text=VIP fast track").first.is_visible()
    _shot(page, "review-claims-queue")

    page.click(f"tr[data-case-id='{case.id}'] a")
    page.click("#claim-case")
    assert page.locator("#case-state").inner_text() == "In review"
    page.click("#decide-submit")  # no reason: the form comes back with the error
    assert page.locator(".invalid-feedback").inner_text() == "A decision needs a reason."
    page.select_option("select[name=decision]", "approved")
    page.fill("textarea[name=reason]", "Hospital invoices verified; loss within cover.")
    page.click("#decide-submit")
    assert page.locator("#case-state").inner_text() == "Approved"
    assert "Hospital invoices verified" in page.locator("#case-decision").inner_text()
    _shot(page, "review-case-decided")
    assert cases(database)[0].state == "approved"
