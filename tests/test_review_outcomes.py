"""Issue 20's loop: tier moves sweep open business into the queues (once), the VIP fast track
follows the tier, decisions change their subject, cover entered after the loss waits for a
risk officer. Services and the subscriber, on both databases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, update

from crm import events
from crm.audit import Actor
from crm.models import Claim, CustomerTier, Policy, User
from crm.review import services
from crm.review.entry import EntryInvalid, enter_claim, enter_policy
from crm.review.outcomes import Conditions
from tests.factories import claim_row, policy_row
from tests.review_helpers import ACTOR, cases, claim, customer, days_ago, insurer_today, policy, reasons


def move(database, cust: dict, old: str, new: str) -> None:
    """What a run leaves and its outbox delivers: the new tier, then TiersChanged (crm.jobs.moves)."""
    with database.transaction() as s:
        s.execute(update(CustomerTier).where(CustomerTier.customer_id == cust["id"]).values(tier=new))
        events.publish(s, events.TiersChanged((events.TierMove(cust["id"], old, new),), 1, ACTOR))


def act(database, user_id: int, step: str, case_id: int, *args, **kw):
    with database.transaction() as s:
        u = s.get(User, user_id)
        return getattr(services, step)(s, case_id, u, *args, Actor.for_user(u), **kw)


def decide(database, user_id, case_id, decision, reason="checked", conditions=None):
    with database.transaction() as s:
        u = s.get(User, user_id)
        services.decide(s, case_id, u, decision, reason, Actor.for_user(u), conditions=conditions)


def get(database, model, key: str, value):
    with database.session() as s:
        return s.scalar(select(model).where(getattr(model, key) == value))


def test_entering_the_watchlist_sweeps_open_claims_and_future_policies_once(database, tmp_path):
    cust = customer(database, tmp_path)
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    future = policy(database, tmp_path, cust, initial_load=True, start_date=days_ago(-20), end_date="2040-01-01")
    pending = claim(
        database, tmp_path, pol, initial_load=True, status="registered", reserve_amount="800.00", paid_amount="0.00"
    )
    approved = claim(
        database, tmp_path, pol, initial_load=True, status="approved", reserve_amount="500.00", paid_amount="0.00"
    )
    claim(database, tmp_path, pol, initial_load=True)  # paid: closed, not swept
    assert reasons(database) == set()
    move(database, cust, "standard", "watchlist")
    expected = {
        (pending["claim_no"], "watchlist_claim"),
        (approved["claim_no"], "watchlist_claim"),
        (future["policy_no"], "watchlist_new_business"),
    }
    assert reasons(database) == expected
    move(database, cust, "standard", "watchlist")  # a second delivery (or run): nothing twice
    assert reasons(database) == expected and len(cases(database)) == 3


def test_vip_fast_track_on_entering_and_back_to_normal_on_leaving(database, tmp_path):
    cust = customer(database, tmp_path)
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    large = claim(
        database,
        tmp_path,
        pol,
        status="reported",
        claimed_amount="90000.00",
        reserve_amount="90000.00",
        paid_amount="0.00",
    )
    small = claim(
        database, tmp_path, pol, initial_load=True, status="reported", reserve_amount="900.00", paid_amount="0.00"
    )
    [before] = cases(database)
    assert not before.fast_track and before.sla_days == 5
    move(database, cust, "standard", "vip")
    assert reasons(database) == {(large["claim_no"], "large_claim"), (small["claim_no"], "vip_claim")}
    assert all(c.fast_track and c.sla_days == 3 and c.priority >= 100_000 for c in cases(database))
    move(database, cust, "standard", "vip")
    assert len(cases(database)) == 2
    move(database, cust, "vip", "standard")
    assert all(not c.fast_track and c.sla_days == 5 and c.priority < 100_000 for c in cases(database))


def test_a_new_claim_of_a_vip_goes_to_the_vip_channel_whatever_its_size(database, tmp_path):
    cust = customer(database, tmp_path, tier="vip")
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    small = claim(database, tmp_path, pol, status="reported", reserve_amount="300.00", paid_amount="0.00")
    [case] = cases(database)
    assert (
        case.reason == "vip_claim"
        and case.fast_track
        and case.claim_id == get(database, Claim, "claim_no", small["claim_no"]).id
    )


def test_rejecting_a_fraud_claim_rejects_it_and_releases_its_reserve(database, tmp_path, make_user):
    reviewer, _ = make_user("claims_reviewer")
    cust = customer(database, tmp_path)
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    row = claim(
        database, tmp_path, pol, status="reported", fraud_suspected="1", reserve_amount="6200.00", paid_amount="0.00"
    )
    [case] = cases(database)
    act(database, reviewer, "claim_case", case.id)
    decide(database, reviewer, case.id, "rejected", "staged accident: photos predate the policy")
    c = get(database, Claim, "claim_no", row["claim_no"])
    assert (c.status, c.reserve_amount, c.rejection_reason) == (
        "rejected",
        Decimal("0.00"),
        "staged accident: photos predate the policy",
    )


def test_approving_waits_for_every_review_of_the_claim(database, tmp_path, make_user):
    reviewer, _ = make_user("claims_reviewer")
    cust = customer(database, tmp_path)
    pol = policy(database, tmp_path, cust, initial_load=True, start_date="2022-01-01")
    row = claim(
        database,
        tmp_path,
        pol,
        status="registered",
        fraud_suspected="1",
        claimed_amount="80000.00",
        reserve_amount="80000.00",
        paid_amount="0.00",
    )
    first, second = cases(database)
    act(database, reviewer, "claim_case", first.id)
    decide(database, reviewer, first.id, "approved")
    assert get(database, Claim, "claim_no", row["claim_no"]).status == "registered"  # the other review is open
    act(database, reviewer, "claim_case", second.id)
    decide(database, reviewer, second.id, "approved")
    assert get(database, Claim, "claim_no", row["claim_no"]).status == "approved"


def test_underwriting_accepts_with_conditions_or_declines(database, tmp_path, make_user):
    underwriter, _ = make_user("underwriter")
    cust = customer(database, tmp_path)
    loaded = policy(database, tmp_path, cust, start_date=days_ago(100))  # late entries
    declined = policy(database, tmp_path, cust, start_date=days_ago(90))
    first, second = cases(database, queue="underwriting")
    act(database, underwriter, "claim_case", first.id)
    with pytest.raises(services.NotAllowed):
        decide(database, underwriter, first.id, "rejected", conditions=Conditions(Decimal("25")))
    decide(
        database, underwriter, first.id, "approved", conditions=Conditions(Decimal("25.00"), "pre-existing back pain")
    )
    p = get(database, Policy, "policy_no", loaded["policy_no"])
    assert (p.uw_outcome, p.premium_loading_pct, p.exclusion, p.status) == (
        "accepted_with_conditions",
        Decimal("25.00"),
        "pre-existing back pain",
        "in_force",
    )
    act(database, underwriter, "claim_case", second.id)
    # The policy is in force: declining cancels it, which takes a second person.
    with pytest.raises(services.NotAllowed, match="second person"):
        decide(database, underwriter, second.id, "rejected", "health declaration incomplete")
    assert get(database, Policy, "policy_no", declined["policy_no"]).status == "in_force"
    act(database, underwriter, "escalate", second.id, "health declaration incomplete: decline")
    officer, _ = make_user("risk_officer")
    decide(database, officer, second.id, "rejected", "health declaration incomplete")
    p = get(database, Policy, "policy_no", declined["policy_no"])
    assert (p.uw_outcome, p.status, p.end_date) == ("declined", "cancelled", p.start_date)  # covers no day


def test_cover_after_the_loss_needs_a_second_persons_risk_officer_approval(database, tmp_path, make_user):
    admin, _ = make_user("admin")
    reviewer, _ = make_user("claims_reviewer")
    officer, _ = make_user("risk_officer")
    cust = customer(database, tmp_path)
    with database.transaction() as s:
        u = s.get(User, admin)
        p = enter_policy(
            s, u, Actor.for_user(u), policy_row(cust["customer_ref"], start_date=days_ago(10)), insurer_today()
        )
        policy_no = p.record.policy_no
    paid = claim_row(policy_no, loss_date=days_ago(5), report_date=days_ago(1))  # paid, by the same person
    with pytest.raises(EntryInvalid) as refused, database.transaction() as s:
        u = s.get(User, admin)
        enter_claim(s, u, Actor.for_user(u), paid, insurer_today())
    assert "status" in refused.value.problems
    with database.transaction() as s:
        u = s.get(User, admin)
        reported = {**paid, "status": "reported", "reserve_amount": "4800.00", "paid_amount": "0.00"}
        enter_claim(s, u, Actor.for_user(u), reported, insurer_today())
    [case] = cases(database, reason="cover_after_loss")
    act(database, reviewer, "claim_case", case.id)
    with pytest.raises(services.CoverNotApproved):  # a claims reviewer alone cannot approve it
        decide(database, reviewer, case.id, "approved")
    assert get(database, Claim, "claim_no", paid["claim_no"]).status == "reported"
    act(database, reviewer, "escalate", case.id, "cover entered after the loss")
    decide(database, officer, case.id, "approved", "policy schedule signed before the loss")
    pol = get(database, Policy, "policy_no", policy_no)
    assert pol.cover_approved_by_id == officer and pol.cover_approved_at is not None
    assert get(database, Claim, "claim_no", paid["claim_no"]).status == "approved"
    with database.transaction() as s:  # the cover approved, a paid claim on it may be entered
        u = s.get(User, admin)
        enter_claim(s, u, Actor.for_user(u), {**paid, "claim_no": paid["claim_no"] + "B"}, insurer_today())


def test_the_risk_officer_who_entered_the_policy_may_not_approve_its_cover(database, tmp_path, make_user):
    entrant, _ = make_user("admin")
    reviewer, _ = make_user("claims_reviewer")
    cust = customer(database, tmp_path)
    with database.transaction() as s:
        u = s.get(User, entrant)
        p = enter_policy(
            s, u, Actor.for_user(u), policy_row(cust["customer_ref"], start_date=days_ago(10)), insurer_today()
        )
        row = {**claim_row(p.record.policy_no, loss_date=days_ago(5), report_date=days_ago(1)), "status": "reported"}
        row.update(reserve_amount="100.00", paid_amount="0.00")
        enter_claim(s, s.get(User, reviewer), Actor.for_user(s.get(User, reviewer)), row, insurer_today())
        s.get(User, entrant).role = "risk_officer"  # the entrant is (now) a risk officer
    [case] = cases(database, reason="cover_after_loss")
    with database.transaction() as s:  # escalated to nobody in particular: any risk officer may take it
        s.execute(update(type(case)).where(type(case).id == case.id).values(state="escalated", assignee_id=None))
    with pytest.raises(services.CoverNotApproved):
        decide(database, entrant, case.id, "approved")


def test_the_demo_after_its_run_leaves_no_open_watchlist_or_vip_claim_outside_a_queue(database):
    import datetime as dt

    from sqlalchemy import exists, func

    from crm.demo import seed_demo
    from crm.models.review import OPEN_CLAIM_STATUSES, ReviewCase
    from tests.template_helpers import seeded

    seeded(database, "demo-600-3", lambda: seed_demo(database, 600, seed=3, as_of=dt.date(2026, 11, 24)))
    with database.session() as s:
        open_claims = (
            select(CustomerTier.tier, func.count())
            .join(Claim, Claim.customer_id == CustomerTier.customer_id)
            .where(Claim.status.in_(OPEN_CLAIM_STATUSES), Claim.voided_at.is_(None))
            .group_by(CustomerTier.tier)
        )
        everything = dict(s.execute(open_claims).all())
        queued = exists().where(ReviewCase.claim_id == Claim.id)
        fast = exists().where(ReviewCase.claim_id == Claim.id, ReviewCase.fast_track.is_(True))
        unqueued = dict(s.execute(open_claims.where(~queued)).all())
        vip_not_fast = dict(s.execute(open_claims.where(~fast)).all()).get("vip", 0)
    assert everything.get("watchlist") and everything.get("vip")
    assert unqueued.get("watchlist", 0) == unqueued.get("vip", 0) == vip_not_fast == 0


def test_the_demo_seeds_when_its_decided_case_waits_for_a_risk_officer(database):
    """The demo hands a claims reviewer a case to decide; when that case is cover entered
    after the loss (a risk officer's call), it is escalated instead of failing the seed."""
    import datetime as dt

    from crm.demo import seed_demo
    from crm.models.review import ReviewCase

    seed_demo(database, 40, 7, as_of=dt.date(2026, 12, 6))  # the portfolio that showed it
    with database.session() as session:
        escalated = session.scalars(select(ReviewCase).where(ReviewCase.state == "escalated")).all()
    assert any(case.reason == "cover_after_loss" for case in escalated)
