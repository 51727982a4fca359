"""Routing: each case kind, the initial-load exemption, idempotent re-imports, bulk chunks."""

from __future__ import annotations

from sqlalchemy import func, select

from crm import events
from crm.audit import Actor
from crm.models import CustomerTier
from crm.models.review import ReviewCase
from crm.review.entry import enter_claim, enter_policy
from crm.review.routing import priority
from tests.factories import claim_row, policy_row
from tests.review_helpers import ACTOR, cases, claim, customer, days_ago, insurer_today, load, policy, reasons


def test_watchlist_policy_new_and_changed(database, tmp_path):
    cust = customer(database, tmp_path, tier="watchlist")
    pol = policy(database, tmp_path, cust, initial_load=True)
    assert reasons(database) == {(pol["policy_no"], "watchlist_new_business")}  # even in an initial load
    changed = {**pol, "annual_premium": "15000.00"}
    load(database, tmp_path, "policies", [changed])
    assert reasons(database) == {
        (pol["policy_no"], "watchlist_new_business"),
        (pol["policy_no"], "watchlist_policy_change"),
    }
    load(database, tmp_path, "policies", [{**changed, "status": "lapsed"}])  # a second change: same case
    assert len(cases(database)) == 2


def test_late_entry_but_not_in_an_initial_load(database, tmp_path):
    cust = customer(database, tmp_path)
    on_time = policy(database, tmp_path, cust, start_date=days_ago(29))  # within 30 days: not late
    late = policy(database, tmp_path, cust, start_date=days_ago(45))
    migrated = policy(database, tmp_path, cust, start_date=days_ago(400), initial_load=True)
    assert reasons(database) == {(late["policy_no"], "late_entry")}
    assert not {on_time["policy_no"], migrated["policy_no"]} & {k for k, _ in reasons(database)}


def test_claim_rules(database, tmp_path):
    watch = customer(database, tmp_path, tier="watchlist")
    std = customer(database, tmp_path)
    wpol = policy(database, tmp_path, watch, initial_load=True)
    spol = policy(database, tmp_path, std, initial_load=True)
    load(
        database,
        tmp_path,
        "claims",
        [
            w := claim_row(wpol["policy_no"]),
            big := claim_row(spol["policy_no"], claimed_amount="50000.01"),
            edge := claim_row(spol["policy_no"], claimed_amount="50000.00"),
            fraud := claim_row(spol["policy_no"], fraud_suspected="1"),
        ],
    )
    assert reasons(database) == {
        (wpol["policy_no"], "watchlist_new_business"),
        (w["claim_no"], "watchlist_claim"),
        (big["claim_no"], "large_claim"),
        (fraud["claim_no"], "fraud_flag"),
    }
    assert edge["claim_no"] not in {k for k, _ in reasons(database)}


def test_cover_entered_after_the_loss(database, tmp_path):
    cust = customer(database, tmp_path)
    fresh = policy(database, tmp_path, cust, start_date=days_ago(10))  # entered today
    old = policy(database, tmp_path, cust, initial_load=True)  # migrated: exempt
    backfilled = claim(database, tmp_path, fresh, loss_date=days_ago(5), report_date=days_ago(1))
    same_day = claim(database, tmp_path, fresh, loss_date=days_ago(0), report_date=days_ago(0))
    claim(database, tmp_path, old, loss_date=days_ago(5), report_date=days_ago(1))
    keys = reasons(database)
    assert (backfilled["claim_no"], "cover_after_loss") in keys
    assert same_day["claim_no"] not in {k for k, _ in keys}
    assert {r for _, r in keys} == {"cover_after_loss"}
    # The same back-filled claim in an initial load is exempt.
    exempt = claim(database, tmp_path, fresh, loss_date=days_ago(5), report_date=days_ago(1), initial_load=True)
    assert exempt["claim_no"] not in {k for k, _ in reasons(database)}


def test_reimport_does_not_duplicate_and_change_routes(database, tmp_path):
    cust = customer(database, tmp_path)
    pol = policy(database, tmp_path, cust, initial_load=True)
    row = claim(database, tmp_path, pol, claimed_amount="60000.00")
    load(database, tmp_path, "claims", [row])  # identical: unchanged
    load(database, tmp_path, "claims", [{**row, "paid_amount": "100.00"}])  # changed: still one case
    assert len(cases(database)) == 1
    load(database, tmp_path, "claims", [{**row, "fraud_suspected": "1"}])  # a new reason: a new case
    assert {c.reason for c in cases(database)} == {"large_claim", "fraud_flag"}


def test_priority_vip_claims_first_then_risk_score_and_shorter_sla(database, tmp_path):
    vip = customer(database, tmp_path, tier="vip", risk="5")
    risky = customer(database, tmp_path, risk="80.5")
    for cust in (vip, risky):
        pol = policy(database, tmp_path, cust, initial_load=True)
        claim(database, tmp_path, pol, claimed_amount="70000.00")
    by_customer = {c.customer_id: c for c in cases(database)}
    assert by_customer[vip["id"]].fast_track and by_customer[vip["id"]].sla_days == 3
    assert by_customer[risky["id"]].sla_days == 5 and by_customer[risky["id"]].priority == 8050
    assert by_customer[vip["id"]].priority > by_customer[risky["id"]].priority == priority(False, "80.5")


def test_leaving_the_watchlist_keeps_open_cases(database, tmp_path):
    cust = customer(database, tmp_path, tier="watchlist")
    policy(database, tmp_path, cust, initial_load=True)
    with database.transaction() as s:
        s.get(CustomerTier, cust["id"]).tier = "standard"
        events.publish(s, events.TiersChanged((events.TierMove(cust["id"], "watchlist", "standard"),), None, ACTOR))
    assert [c.state for c in cases(database)] == ["open"]


def test_entry_routes_with_the_same_rules_and_records_who(database, tmp_path, make_user):
    uid, _ = make_user("underwriter")
    cust = customer(database, tmp_path)
    with database.transaction() as s:
        from crm.models import User

        u = s.get(User, uid)
        p = enter_policy(
            s, u, Actor.for_user(u), policy_row(cust["customer_ref"], start_date=days_ago(60)), insurer_today()
        )
        c = enter_claim(
            s,
            u,
            Actor.for_user(u),
            claim_row(
                p.record.policy_no,
                loss_date=days_ago(59),
                report_date=days_ago(1),
                status="reported",  # not paid: the cover waits for a risk officer (test_review_outcomes)
                reserve_amount="4800.00",
                paid_amount="0.00",
            ),
            insurer_today(),
        )
    assert {x.reason for x in cases(database)} == {"late_entry", "cover_after_loss"}
    assert {x.entered_by_id for x in cases(database)} == {uid}
    assert len(p.case_ids) == len(c.case_ids) == 1


def test_bulk_import_routes_in_chunks(database, tmp_path):
    cust = customer(database, tmp_path, tier="watchlist")
    pol = policy(database, tmp_path, cust, initial_load=True)
    load(database, tmp_path, "claims", [claim_row(pol["policy_no"]) for _ in range(1000)], initial_load=True)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(ReviewCase).where(ReviewCase.queue == "claims")) == 1000
