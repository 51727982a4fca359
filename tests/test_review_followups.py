"""Issue 20, what the controls still let through after test_review_controls.py (both databases):

- a claims reviewer's rejection of a black-listed customer's claim waits for the risk officer's
  second-level review, as an approval does, and the case page says what it waits for;
- a watchlist customer's policy gets a new review case for each change (a second void request)
  once the case of the one before is decided, and never two active ones;
- why a case opened is stored as a code with its figures and said in the reader's language,
  the sweeps' reasons too.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from crm.audit import Actor
from crm.customers import blacklist
from crm.models import Claim, Policy, User
from tests.conftest import csrf_token
from tests.factories import policy_row
from tests.review_helpers import ACTOR, cases, claim, customer, days_ago, insurer_today, load, policy
from tests.test_review_controls import _ask_void, _asker
from tests.test_review_outcomes import act, decide, get, move


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


def test_each_void_request_on_a_watchlist_customers_policy_gets_its_own_case(database, tmp_path, make_user):
    underwriter, _ = make_user("underwriter")
    cust = customer(database, tmp_path, tier="watchlist")
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    _ask_void(database, pol["policy_no"], _asker(make_user))
    [first] = cases(database, reason="watchlist_policy_change")
    act(database, underwriter, "claim_case", first.id)
    decide(database, underwriter, first.id, "rejected", "the customer keeps the policy")
    # The second request is a new change: its own case, while the first stays decided.
    _ask_void(database, pol["policy_no"], _asker(make_user))
    decided, second = cases(database, reason="watchlist_policy_change")
    assert (decided.id, decided.state, second.state) == (first.id, "rejected", "open")
    # Only one active case per policy for its changes: a change re-imported meanwhile opens none.
    load(database, tmp_path, "policies", [{**pol, "annual_premium": "9100.00"}])
    assert len(cases(database, reason="watchlist_policy_change")) == 2
    act(database, underwriter, "claim_case", second.id)
    decide(database, underwriter, second.id, "approved", "confirmed with the customer")
    assert get(database, Policy, "policy_no", pol["policy_no"]).voided_at is not None
    # Other reasons stay once per policy: a second sweep opens nothing new.
    later = policy(database, tmp_path, cust, initial_load=True, start_date=days_ago(-20), end_date="2040-01-01")
    later_id = get(database, Policy, "policy_no", later["policy_no"]).id
    [new_business] = cases(database, reason="watchlist_new_business", policy_id=later_id)
    act(database, underwriter, "claim_case", new_business.id)
    decide(database, underwriter, new_business.id, "approved", "fine")
    move(database, cust, "standard", "watchlist")  # sweeps the policy not in force yet again
    assert [c.id for c in cases(database, reason="watchlist_new_business", policy_id=later_id)] == [new_business.id]


def test_why_a_case_opened_is_said_in_the_readers_language(client, auth, database, tmp_path, make_user):
    _, email = make_user("underwriter")
    _, reviewer = make_user("claims_reviewer")
    cust = customer(database, tmp_path)
    late = policy_row(cust["customer_ref"], start_date=days_ago(75), end_date="2045-01-01")
    load(database, tmp_path, "policies", [late])
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    claim(
        database,
        tmp_path,
        pol,
        status="reported",
        claimed_amount="86000.00",
        reserve_amount="86000.00",
        paid_amount="0",
    )
    claim(
        database, tmp_path, pol, status="registered", claimed_amount="100.00", reserve_amount="100.00", paid_amount="0"
    )
    move(database, cust, "standard", "watchlist")
    [late_case] = cases(database, reason="late_entry")
    [large] = cases(database, reason="large_claim")
    swept = cases(database, reason="watchlist_claim")
    assert len(swept) == 2
    entered = insurer_today().isoformat()
    start = days_ago(75)
    auth.login(email)
    path = f"/review/cases/{late_case.id}"
    assert _block(_page(client, path, "en"), "case-detail") == (
        f"entered on {entered}, 75 days after the start on {start}"
    )
    chinese = _block(_page(client, path, "zh"), "case-detail")
    assert "共 75 天" in chinese and entered in chinese and "entered" not in chinese
    auth.logout()
    auth.login(reviewer)
    path = f"/review/cases/{large.id}"
    assert _block(_page(client, path, "zh"), "case-detail") == "索赔金额 ¥86,000.00，超过大额赔案标准 ¥50,000.00"
    assert _block(_page(client, path, "en"), "case-detail") == (
        "claimed ¥86,000.00, over the large-claim threshold of ¥50,000.00"
    )
    path = f"/review/cases/{swept[0].id}"
    assert _block(_page(client, path, "en"), "case-detail") == "customer entered the watchlist"
    assert _block(_page(client, path, "zh"), "case-detail") == "客户进入观察名单"


def test_a_routed_escalation_is_said_in_the_readers_language(client, auth, database, tmp_path, make_user):
    _, officer = make_user("risk_officer")
    cust = customer(database, tmp_path, tier="watchlist")
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    _black_list(database, cust["id"], make_user)
    claim(database, tmp_path, pol, status="reported", reserve_amount="100.00", paid_amount="0.00")
    [second] = cases(database, reason="blacklist_claim")
    auth.login(officer)
    page = _page(client, f"/review/cases/{second.id}", "zh")
    assert _block(page, "case-detail") == "客户在黑名单上"
    assert _block(page, "case-escalated-on-opening") and "on opening" not in _block(page, "case-escalated-on-opening")


def test_the_requester_of_a_void_never_decides_it_on_a_second_change_either(database, tmp_path, make_user):
    asker_id, asker_email = make_user("underwriter")
    other, _ = make_user("underwriter")
    cust = customer(database, tmp_path, tier="watchlist")
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    asker = Actor("user", asker_email, str(asker_id), "underwriter")
    _ask_void(database, pol["policy_no"], asker)
    [first] = cases(database, reason="watchlist_policy_change")
    act(database, other, "claim_case", first.id)
    decide(database, other, first.id, "rejected", "keeps it")
    _ask_void(database, pol["policy_no"], asker)
    _, second = cases(database, reason="watchlist_policy_change")
    assert second.entered_by_id == asker_id  # four eyes: the one who asked entered the change
    with database.session() as s:
        assert s.scalar(select(Policy.void_requested_by).where(Policy.policy_no == pol["policy_no"])) == asker_email
