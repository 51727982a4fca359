"""Issue 20, what the controls still let through after test_review_controls.py (both databases):

- a claims reviewer's rejection of a black-listed customer's claim waits for the risk officer's
  second-level review, as an approval does, and the case page says what it waits for.
"""

from __future__ import annotations

import re
from decimal import Decimal

from crm.customers import blacklist
from crm.models import Claim, User
from tests.conftest import csrf_token
from tests.review_helpers import ACTOR, cases, claim, customer, policy
from tests.test_review_outcomes import act, decide, get


def _black_list(database, customer_id: int, make_user) -> None:
    first, _ = make_user("risk_officer")
    second, _ = make_user("admin")
    with database.transaction() as s:
        entry = blacklist.request_entry(s, ACTOR, s.get(User, first), customer_id, "fraud confirmed")
        blacklist.decide_entry(s, ACTOR, s.get(User, second), entry.id, True)


def _page(client, path: str, locale: str) -> str:
    client.post("/language", data={"locale": locale, "csrf_token": csrf_token(client, path), "next": path})
    return client.get(path).get_data(as_text=True)


def _block(page: str, element_id: str) -> str | None:
    """The text of the element with this id (tags removed), or None when the page has none."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</dd>', page, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip() if match else None


def _black_listed_claim(database, tmp_path, make_user) -> tuple[dict, int, int]:
    """A black-listed (watchlist) customer's pending claim with a ¥6,200 reserve; returns its row,
    the watchlist review's case id and the second-level review's."""
    cust = customer(database, tmp_path, tier="watchlist")
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    _black_list(database, cust["id"], make_user)
    row = claim(database, tmp_path, pol, status="reported", reserve_amount="6200.00", paid_amount="0.00")
    [watch] = cases(database, reason="watchlist_claim")
    [second] = cases(database, reason="blacklist_claim")
    assert second.state == "escalated"
    return row, watch.id, second.id


def test_a_reviewers_rejection_of_a_black_listed_customers_claim_waits_for_the_risk_officer(
    client, auth, database, tmp_path, make_user
):
    reviewer, reviewer_email = make_user("claims_reviewer")
    officer, _ = make_user("risk_officer")
    row, watch, second = _black_listed_claim(database, tmp_path, make_user)
    act(database, reviewer, "claim_case", watch)
    decide(database, reviewer, watch, "rejected", "staged accident: photos predate the policy")
    c = get(database, Claim, "claim_no", row["claim_no"])
    assert (c.status, c.reserve_amount, c.rejection_reason) == ("reported", Decimal("6200.00"), None)
    # The case page says what the rejection waits for, in both languages.
    auth.login(reviewer_email)
    english = _block(_page(client, f"/review/cases/{watch}", "en"), "case-waits")
    assert english and "second-level review" in english and f"#{second}" in english and "Escalated" in english
    chinese = _block(_page(client, f"/review/cases/{watch}", "zh"), "case-waits")
    assert chinese and "二级审核" in chinese and f"#{second}" in chinese and "已上报" in chinese
    # The risk officer's decision settles the claim: their rejection, at once, with their reason.
    decide(database, officer, second, "rejected", "fraud confirmed by the investigation unit")
    c = get(database, Claim, "claim_no", row["claim_no"])
    assert (c.status, c.reserve_amount, c.rejection_reason) == (
        "rejected",
        Decimal("0.00"),
        "fraud confirmed by the investigation unit",
    )
    assert _block(_page(client, f"/review/cases/{watch}", "en"), "case-waits") is None


def test_the_risk_officers_approval_settles_a_black_listed_claim_a_reviewer_rejected(database, tmp_path, make_user):
    reviewer, _ = make_user("claims_reviewer")
    officer, _ = make_user("risk_officer")
    row, watch, second = _black_listed_claim(database, tmp_path, make_user)
    act(database, reviewer, "claim_case", watch)
    decide(database, reviewer, watch, "rejected", "looks staged")
    decide(database, officer, second, "approved", "the investigation found nothing")
    assert get(database, Claim, "claim_no", row["claim_no"]).status == "approved"


def test_a_customer_not_on_the_black_list_has_a_rejection_take_effect_at_once(database, tmp_path, make_user):
    reviewer, _ = make_user("claims_reviewer")
    cust = customer(database, tmp_path, tier="watchlist")
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    row = claim(
        database, tmp_path, pol, status="reported", fraud_suspected="1", reserve_amount="900.00", paid_amount="0.00"
    )
    first, _other = cases(database, queue="claims")  # the watchlist's review and the fraud flag's
    act(database, reviewer, "claim_case", first.id)
    decide(database, reviewer, first.id, "rejected", "staged")
    assert get(database, Claim, "claim_no", row["claim_no"]).status == "rejected"
