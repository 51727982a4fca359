"""Emergency assistance: spend within the cover is approved, beyond it waits for a second person."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from crm import audit
from crm.benefits import assistance
from crm.benefits.services import BenefitError
from crm.bulk import id_rows, ids_param
from crm.models import AuditEvent, Customer
from crm.models.benefits import AssistanceEnrolment, AssistanceSpend
from tests.benefits_helpers import AS_OF, make_customers, move
from tests.conftest import csrf_token

MANAGER = audit.Actor("user", "am@test.crm", "1", "account_manager")
RISK = audit.Actor("user", "risk@test.crm", "2", "risk_officer")
RISK2 = audit.Actor("user", "risk2@test.crm", "3", "risk_officer")


def _case(database, category="medical_rescue"):
    [cid] = make_customers(database, 1)
    move(database, [cid], "vip")
    with database.transaction() as s:
        return assistance.open_case(s, MANAGER, s.get(Customer, cid), category, "Thailand", "车祸送医", AS_OF).id


def _spend(database, case_id, amount, actor=MANAGER):
    with database.transaction() as s:
        spend = assistance.record_spend(s, actor, s.get(assistance.AssistanceCase, case_id), Decimal(amount))
        return spend.id, spend.state


def _remaining(database):
    with database.session() as s:
        e = s.scalar(select(AssistanceEnrolment))
        return e.cover_limit_usd - e.spent_usd


def test_spend_beyond_the_remaining_cover_needs_another_risk_officer(database):
    case_id = _case(database)
    assert _spend(database, case_id, "999000.00")[1] == "approved"
    assert _remaining(database) == Decimal("1000.00")
    spend_id, state = _spend(database, case_id, "1000.01", actor=RISK)
    assert state == "pending" and _remaining(database) == Decimal("1000.00")
    with database.transaction() as s, pytest.raises(BenefitError, match="only a risk officer"):
        assistance.decide_spend(s, MANAGER, spend_id, True)
    with database.transaction() as s, pytest.raises(BenefitError, match="recorded the spend"):
        assistance.decide_spend(s, RISK, spend_id, True)  # four eyes: not the recorder
    with database.transaction() as s:
        assistance.decide_spend(s, RISK2, spend_id, True)
    assert _remaining(database) == Decimal("-0.01")
    with database.transaction() as s, pytest.raises(BenefitError, match="not pending"):
        assistance.decide_spend(s, RISK2, spend_id, False)
    with database.session() as s:
        spend = s.get(AssistanceSpend, spend_id)
        assert (spend.state, spend.decided_by) == ("approved", "risk2@test.crm")
        assert (
            s.scalar(
                select(AuditEvent.action)
                .where(AuditEvent.entity_type == "assistance_spend")
                .order_by(AuditEvent.seq.desc())
                .limit(1)
            )
            == "assistance.spend_approved"
        )


def test_no_case_without_an_active_enrolment(database):
    [cid] = make_customers(database, 1)
    move(database, [cid], "vip")
    move(database, [cid], "standard")
    with database.transaction() as s, pytest.raises(BenefitError, match="no active"):
        assistance.open_case(s, MANAGER, s.get(Customer, cid), "lost_passport", "France", "护照遗失", AS_OF)


def test_case_list_shows_open_cases_and_the_risk_officer_approves_on_the_web(client, auth, make_user, database):
    case_id = _case(database)
    _, risk_email = make_user("risk_officer")
    spend_id, state = _spend(database, case_id, "1000000.01")
    assert state == "pending"
    auth.login(risk_email)
    listing = client.get("/benefits/assistance").get_data(as_text=True)
    assert f'href="/benefits/assistance/cases/{case_id}"' in listing and 'id="pending-spend"' in listing
    token = csrf_token(client, f"/benefits/assistance/cases/{case_id}")
    response = client.post(f"/benefits/assistance/spends/{spend_id}/approve", data={"csrf_token": token})
    assert response.status_code == 302
    with database.session() as s:
        assert s.get(AssistanceSpend, spend_id).state == "approved"
    assert client.post(f"/benefits/assistance/cases/{case_id}/close", data={"csrf_token": token}).status_code == 302
    assert f'/benefits/assistance/cases/{case_id}"' not in client.get("/benefits/assistance").get_data(as_text=True)


def test_enrolment_numbers_made_by_the_database_are_membership_no(database):
    # A first run enrols its new VIPs in one statement: the database writes the number.
    start = dt.date(2026, 1, 1)
    ids = [7, 12_345_678, 123_456_789]
    dialect = database.dialect
    sql = (
        f"SELECT {assistance._MEMBERSHIP_NO[dialect]} FROM ({id_rows(dialect)}) AS i "  # nosec B608 - constants
        "ORDER BY i.value"
    )
    with database.session() as s:
        made = s.scalars(
            text(sql), {"number_head": assistance.membership_no(0, start)[:-8], "ids": ids_param(dialect, ids)}
        ).all()
    assert (
        made
        == [assistance.membership_no(cid, start) for cid in ids]
        == ["GA202601-00000007", "GA202601-12345678", "GA202601-123456789"]
    )
