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
    page.click("#decide-submit")  # no decision chosen in advance, no reason: both come back as errors
    assert page.locator(".invalid-feedback").all_inner_texts() == ["Choose a decision.", "A decision needs a reason."]
    page.select_option("select[name=decision]", "approved")
    page.fill("textarea[name=reason]", "Hospital invoices verified; loss within cover.")
    page.click("#decide-submit")
    assert page.locator("#case-state").inner_text() == "Approved"
    assert "Hospital invoices verified" in page.locator("#case-decision").inner_text()
    _shot(page, "review-case-decided")
    assert cases(database)[0].state == "approved"


def test_claims_reviewer_rejects_a_fraud_claim_and_the_customer_page_shows_it(live_app, page, tmp_path):  # noqa: F811
    from tests.review_helpers import claim, customer, policy

    base, app = live_app
    database = app.extensions["crm_db"]
    email = _user(app, "claims_reviewer", "reviewer-fraud@browser.crm")
    cust = customer(database, tmp_path)
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    row = claim(
        database, tmp_path, pol, status="reported", fraud_suspected="1", reserve_amount="6200.00", paid_amount="0.00"
    )
    [case] = cases(database)

    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.goto(base + f"/review/cases/{case.id}")
    page.click("#claim-case")
    page.select_option("select[name=decision]", "rejected")
    page.fill("textarea[name=reason]", "Staged accident: the photos predate the policy.")
    page.click("#decide-submit")
    assert page.locator("#case-state").inner_text() == "Rejected"
    assert "Staged accident" in page.locator("#claim-rejection-reason").inner_text()
    page.click(f"a:has-text('{cust['name']}')")
    claim_row = page.locator(f"tr:has-text('{row['claim_no']}')")
    assert "Rejected" in claim_row.locator(".claim-status").inner_text()
    assert "Staged accident" in claim_row.inner_text()
    assert "0.00" in claim_row.locator("td").nth(5).inner_text()  # the reserve released
    assert "6,200" not in claim_row.inner_text() and "6200" not in claim_row.inner_text()
    _shot(page, "review-fraud-claim-rejected-customer-page")
