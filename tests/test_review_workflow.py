"""Claiming (atomic under concurrency), round-robin, four eyes, escalation, decisions."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select, update

from crm.audit import Actor
from crm.models import AuditEvent, Customer, User
from crm.review import assign, services
from tests.review_helpers import cases, claimable_case, customer, days_ago, policy


def claim(database, case_id, user_id):
    with database.transaction() as s:
        u = s.get(User, user_id)
        services.claim_case(s, case_id, u, Actor.for_user(u))


def decide(database, case_id, user_id, decision="approved", reason="checked the documents"):
    with database.transaction() as s:
        u = s.get(User, user_id)
        services.decide(s, case_id, u, decision, reason, Actor.for_user(u))


def escalate(database, case_id, user_id, reason="needs the superior company"):
    with database.transaction() as s:
        u = s.get(User, user_id)
        services.escalate(s, case_id, u, reason, Actor.for_user(u))


def _reviewers(database, n: int) -> list[int]:
    """n claims reviewers, inserted directly (hashing 20 passwords would dominate the test)."""
    with database.transaction() as s:
        users = [
            User(email=f"r{i}-{uuid.uuid4().hex[:6]}@test.crm", role="claims_reviewer", password_hash="x")
            for i in range(n)
        ]
        s.add_all(users)
        s.flush()
        return [u.id for u in users]


def test_twenty_reviewers_claim_one_case_exactly_one_wins(database, tmp_path, make_user):
    case = claimable_case(database, tmp_path)
    reviewers = _reviewers(database, 20)
    barrier = threading.Barrier(20)
    won, lost, errors = [], [], []

    def attempt(user_id):
        barrier.wait()
        try:
            claim(database, case.id, user_id)
            won.append(user_id)
        except services.AlreadyTaken:
            lost.append(user_id)
        except Exception as exc:  # noqa: BLE001 - any other failure fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(u,)) for u in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(won) == 1 and len(lost) == 19
    assert cases(database)[0].assignee_id == won[0] and cases(database)[0].state == "in_review"


def test_round_robin_skips_inactive_users_and_wraps(database, tmp_path, make_user):
    a, _ = make_user("claims_reviewer")
    b, _ = make_user("claims_reviewer")
    c, _ = make_user("claims_reviewer")
    with database.transaction() as s:
        s.execute(update(User).where(User.id == b).values(active=False))
    for _ in range(4):
        claimable_case(database, tmp_path)
    with database.transaction() as s:
        assert assign.assign_open_cases(s, "claims", Actor("system", "t")) == 4
    assert [x.assignee_id for x in cases(database)] == [a, c, a, c]
    assert all(x.state == "in_review" for x in cases(database))


def test_round_robin_skips_four_eyes_conflicts_and_reports_nobody(database, tmp_path, make_user):
    only, email = make_user("claims_reviewer")
    with database.transaction() as s:  # the only reviewer manages this customer's portfolio
        s.execute(update(User).where(User.id == only).values(role="admin"))
    case = claimable_case(database, tmp_path)
    with database.transaction() as s:
        s.execute(update(Customer).where(Customer.id == case.customer_id).values(account_manager_id=only))
        s.execute(update(User).where(User.id == only).values(role="claims_reviewer"))
    with database.transaction() as s, pytest.raises(assign.NoReviewer):
        assign.assign_round_robin(s, case.id, Actor("system", "t"))


def test_four_eyes_entered_it_yourself_or_own_portfolio(database, tmp_path, make_user):
    admin, _ = make_user("admin")
    cust = customer(database, tmp_path)
    policy(database, tmp_path, cust, start_date=days_ago(90), user_id=admin)  # uploaded by this admin
    case = cases(database, reason="late_entry")[0]
    assert case.entered_by_id == admin
    with pytest.raises(services.FourEyes, match="entered"):
        claim(database, case.id, admin)
    other, email = make_user("admin")
    claim(database, case.id, other)
    decide(database, case.id, other)
    assert cases(database)[0].state == "approved"
    own = claimable_case(database, tmp_path, manager=email)
    with pytest.raises(services.FourEyes, match="portfolio"):
        claim(database, own.id, other)


def test_decision_needs_a_reason_and_the_holder(database, tmp_path, make_user):
    case = claimable_case(database, tmp_path)
    r1, _ = make_user("claims_reviewer")
    r2, _ = make_user("claims_reviewer")
    uw, _ = make_user("underwriter")
    with pytest.raises(services.NotAllowed):
        claim(database, case.id, uw)  # not this role's queue
    with pytest.raises(services.NotAllowed):
        decide(database, case.id, r1)  # not claimed yet
    claim(database, case.id, r1)
    with pytest.raises(services.NotAllowed):
        decide(database, case.id, r2)
    with pytest.raises(services.ReasonRequired):
        decide(database, case.id, r1, reason="   ")
    decide(database, case.id, r1, "rejected", "policy excludes this loss")
    done = cases(database)[0]
    assert (done.state, done.decision, done.decided_by_id, done.decision_reason) == (
        "rejected",
        "rejected",
        r1,
        "policy excludes this loss",
    )
    with pytest.raises(services.NotAllowed):
        decide(database, case.id, r1)  # decided already


def test_escalation_goes_to_an_active_risk_officer_who_decides(database, tmp_path, make_user):
    case = claimable_case(database, tmp_path)
    reviewer, _ = make_user("claims_reviewer")
    sleeping, _ = make_user("risk_officer")
    officer, _ = make_user("risk_officer")
    with database.transaction() as s:
        s.execute(update(User).where(User.id == sleeping).values(active=False))
    claim(database, case.id, reviewer)
    with pytest.raises(services.ReasonRequired):
        escalate(database, case.id, reviewer, reason="")
    escalate(database, case.id, reviewer)
    esc = cases(database)[0]
    assert (esc.state, esc.assignee_id, esc.escalated_by_id) == ("escalated", officer, reviewer)
    with pytest.raises(services.NotAllowed):
        decide(database, case.id, reviewer)  # the reviewer no longer decides
    decide(database, case.id, officer, "approved", "approved at head office")
    with database.transaction() as s:
        u = s.get(User, reviewer)
        services.close(s, case.id, u, Actor.for_user(u))
    assert cases(database)[0].state == "closed"
    with database.session() as s:
        actions = list(
            s.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "review_case").order_by(AuditEvent.seq))
        )
    assert actions == [
        "review_case.open",
        "review_case.claim",
        "review_case.escalate",
        "review_case.decide",
        "review_case.close",
    ]
