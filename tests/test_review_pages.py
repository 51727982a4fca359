"""Queue and case pages: authorisation, filters, overdue highlighting, forms, keyset pages."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import update

from crm.models.review import ReviewCase
from tests.clock_helpers import business_today
from tests.conftest import csrf_token
from tests.review_helpers import cases, claimable_case, customer, load


def _overdue(database, case_id):
    with database.transaction() as s:
        s.execute(update(ReviewCase).where(ReviewCase.id == case_id).values(due_on=dt.date(2020, 1, 6)))


def test_account_manager_cannot_open_the_queues_and_sees_only_own_cases(
    client, login_as, make_user, database, tmp_path, auth
):
    _, email = login_as("account_manager")
    _, other = make_user("account_manager")
    mine = claimable_case(database, tmp_path, manager=email)
    theirs = claimable_case(database, tmp_path, manager=other)
    assert client.get("/review/claims").status_code == 403
    assert client.get("/review/underwriting").status_code == 403
    assert client.get(f"/review/cases/{mine.id}").status_code == 200
    assert client.get(f"/review/cases/{theirs.id}").status_code == 404
    assert client.get("/review/cases/999999").status_code == 404
    token = csrf_token(client, "/customers")
    assert client.post(f"/review/cases/{theirs.id}/claim", data={"csrf_token": token}).status_code == 403
    assert client.get("/review/entry").status_code == 403 and client.get("/review/settings").status_code == 403
    auth.logout()
    login_as("underwriter")  # an underwriter works underwriting, not claims
    assert client.get("/review/underwriting").status_code == 200
    assert client.get("/review/claims").status_code == 403


def test_queue_filters_and_overdue_highlighting(client, login_as, database, tmp_path):
    me, _ = login_as("claims_reviewer")
    late, fresh, held = (claimable_case(database, tmp_path) for _ in range(3))
    _overdue(database, late.id)
    token = csrf_token(client, "/review/claims")
    assert client.post(f"/review/cases/{held.id}/claim", data={"csrf_token": token}).status_code == 302
    html = client.get("/review/claims").get_data(as_text=True)
    assert re.search(rf'<tr class="overdue" data-case-id="{late.id}"', html)
    assert re.search(rf'<tr class="" data-case-id="{fresh.id}"', html)
    assert "1 overdue" in html and "3 active" in html and "1 held by me" in html
    only_late = client.get("/review/claims?overdue=1").get_data(as_text=True)
    assert set(re.findall(r'data-case-id="(\d+)"', only_late)) == {str(late.id)}
    mine = client.get("/review/claims?mine=1").get_data(as_text=True)
    assert set(re.findall(r'data-case-id="(\d+)"', mine)) == {str(held.id)}
    in_review = client.get("/review/claims?state=in_review").get_data(as_text=True)
    assert set(re.findall(r'data-case-id="(\d+)"', in_review)) == {str(held.id)}
    assert "No cases here" in client.get("/review/claims?state=closed").get_data(as_text=True)


def test_keyset_pages(client, login_as, database, tmp_path):
    login_as("claims_reviewer")
    cust = customer(database, tmp_path)
    from tests.factories import claim_row, policy_row

    pol = policy_row(cust["customer_ref"])
    load(database, tmp_path, "policies", [pol], initial_load=True)
    load(database, tmp_path, "claims", [claim_row(pol["policy_no"], claimed_amount="60000") for _ in range(60)])
    first = client.get("/review/claims").get_data(as_text=True)
    ids_first = set(re.findall(r'data-case-id="(\d+)"', first))
    nxt = re.search(r'id="next-page" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(nxt).get_data(as_text=True)
    ids_second = set(re.findall(r'data-case-id="(\d+)"', second))
    assert len(ids_first) == 50 and len(ids_second) == 10 and not ids_first & ids_second


def test_claim_then_decide_needs_a_reason(client, login_as, database, tmp_path):
    me, _ = login_as("claims_reviewer")
    case = claimable_case(database, tmp_path)
    page = f"/review/cases/{case.id}"
    assert client.post(f"{page}/claim", data={}).status_code == 400  # no CSRF token
    token = csrf_token(client, page)
    assert client.post(f"{page}/claim", data={"csrf_token": token}).status_code == 302
    assert client.post(f"{page}/claim", data={"csrf_token": token}).status_code == 409  # held already
    html = client.get(page).get_data(as_text=True)
    assert 'id="decide-form"' in html
    response = client.post(f"{page}/decide", data={"csrf_token": token, "decision": "approved", "reason": ""})
    assert response.status_code == 422
    assert "A decision needs a reason." in response.get_data(as_text=True)
    assert cases(database)[0].state == "in_review"
    response = client.post(
        f"{page}/decide",
        data={"csrf_token": token, "decision": "approved", "reason": "documents complete"},
        follow_redirects=True,
    )
    assert response.status_code == 200 and "documents complete" in response.get_data(as_text=True)
    assert all(
        a in response.get_data(as_text=True) for a in ("review_case.open", "review_case.claim", "review_case.decide")
    )
    assert (cases(database)[0].state, cases(database)[0].decided_by_id) == ("approved", me)


def test_four_eyes_on_the_page(client, login_as, database, tmp_path):
    _, email = login_as("admin")
    case = claimable_case(database, tmp_path, manager=email)
    page = f"/review/cases/{case.id}"
    html = client.get(page).get_data(as_text=True)
    assert 'id="four-eyes"' in html and 'id="claim-case"' not in html
    response = client.post(f"{page}/claim", data={"csrf_token": csrf_token(client, page)})
    assert response.status_code == 403 and "portfolio" in response.get_data(as_text=True)


def test_case_page_masks_personal_data_and_customer_page_lists_cases(client, login_as, database, tmp_path):
    login_as("admin")
    case = claimable_case(database, tmp_path)
    html = client.get(f"/review/cases/{case.id}").get_data(as_text=True)
    assert re.search(r"\d{3}\*{14}[\dX]", html) and re.search(r"1\d{2}\*{4}\d{4}", html)
    assert "¥90,000.00" in html and "Large claim" in html
    with database.session() as s:
        from crm.models import Customer

        assert s.get(Customer, case.customer_id).id_number not in html
    html = client.get(f"/customers/{case.customer_id}").get_data(as_text=True)
    assert 'id="review-cases-panel"' in html and f'/review/cases/{case.id}"' in html


def test_entry_of_a_late_policy_and_a_backfilled_claim(client, login_as, database, tmp_path):
    me, _ = login_as("underwriter")
    cust = customer(database, tmp_path)
    token = csrf_token(client, "/review/entry")
    start = (business_today() - dt.timedelta(days=60)).isoformat()
    policy = {
        "p-csrf_token": token,
        "p-customer_ref": cust["customer_ref"],
        "p-policy_no": "PM-1",
        "p-product_code": "LIFE-10",
        "p-product_type": "life",
        "p-start_date": start,
        "p-end_date": "2045-01-01",
        "p-term_years": "20",
        "p-payment_mode": "annual",
        "p-annual_premium": "8000.00",
        "p-status": "in_force",
        "p-created_at": "2000-01-01T00:00:00Z",
    }
    response = client.post("/review/entry/policy", data=policy)
    assert response.status_code == 302 and f"/customers/{cust['id']}" in response.headers["Location"]
    late = cases(database, reason="late_entry")[0]
    assert late.entered_by_id == me and late.queue == "underwriting"
    with database.session() as s:
        from crm.models import Policy

        entered = s.get(Policy, late.policy_id)
        assert entered.created_at.date() >= dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)  # stored in UTC
    again = client.post("/review/entry/policy", data=policy)
    assert again.status_code == 422 and "exists already" in again.get_data(as_text=True)
    claim = {
        "c-csrf_token": token,
        "c-policy_no": "PM-1",
        "c-claim_no": "LM-1",
        "c-loss_date": start,
        "c-report_date": business_today().isoformat(),
        "c-status": "reported",
        "c-claimed_amount": "1000",
        "c-reserve_amount": "1000",
        "c-paid_amount": "0",
    }
    assert client.post("/review/entry/claim", data=claim).status_code == 302
    assert cases(database, reason="cover_after_loss")[0].entered_by_id == me


def test_entry_errors_rerender_with_field_errors(client, login_as, database, tmp_path):
    login_as("admin")
    token = csrf_token(client, "/review/entry")
    response = client.post(
        "/review/entry/claim",
        data={
            "c-csrf_token": token,
            "c-policy_no": "NOPE",
            "c-claim_no": "L1",
            "c-loss_date": "2025-02-30",
            "c-report_date": "2025-01-01",
            "c-status": "reported",
            "c-claimed_amount": "-5",
            "c-reserve_amount": "0",
            "c-paid_amount": "0",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "no policy NOPE" in html and "not a real date" in html and "must not be negative" in html


def test_settings_page_is_admin_only_and_saves_a_version(client, login_as, database):
    login_as("admin")
    html = client.get("/review/settings").get_data(as_text=True)
    assert 'value="5"' in html and "50000.00" in html
    token = csrf_token(client, "/review/settings")
    data = {
        "csrf_token": token,
        "sla_underwriting_days": "4",
        "sla_claims_days": "5",
        "sla_vip_claims_days": "2",
        "large_claim_amount": "60000",
        "late_entry_days": "30",
        "holidays": "2025-10-01\n2025-10-02",
        "note": "",
    }
    assert client.post("/review/settings", data=data).status_code == 422  # a change needs a reason
    assert client.post("/review/settings", data={**data, "note": "board minutes 12"}).status_code == 302
    assert "v1" in client.get("/review/settings").get_data(as_text=True)
