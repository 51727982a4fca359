"""Entitlements follow the tiers: pro-rated grant, idempotent renewal, stop, suspend, resume."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

from sqlalchemy import func, select

from crm.benefits.catalogue import prorated
from crm.benefits.jobs import renew_entitlements
from crm.models import AuditEvent
from crm.models.benefits import AssistanceEnrolment, BenefitUse, EntitlementEntry
from tests.benefits_helpers import ACTOR, AS_OF, balance, entries, make_customers, move


def test_prorating_rounds_up_by_days_left():
    assert prorated(4, "quarter", dt.date(2026, 11, 24)) == 2  # 4 × 38/92 = 1.65
    assert prorated(4, "quarter", dt.date(2026, 10, 1)) == 4
    assert prorated(4, "quarter", dt.date(2026, 12, 31)) == 1  # 4 × 1/92: never nothing
    assert prorated(1, "year", dt.date(2026, 12, 31)) == 1
    assert prorated(6, "year", dt.date(2026, 7, 3)) == 3  # 6 × 182/365 = 2.99
    assert prorated(6, "year", dt.date(2026, 7, 2)) == 4  # 6 × 183/365 = 3.01


def test_becoming_vip_grants_prorated_entitlements_and_enrols_for_assistance(database):
    [cid] = make_customers(database, 1)
    move(database, [cid], "vip")
    assert balance(database, cid, "vip_coupons") == 2
    assert balance(database, cid, "vip_checkup") == 1
    assert balance(database, cid, "vip_appointments") == 1  # 6 × 38/365 = 0.62 → 1
    assert entries(database, cid, "vip_coupons") == [("vip_coupons", "grant", 2, dt.date(2026, 10, 1))]
    with database.session() as s:
        enrolment = s.scalar(select(AssistanceEnrolment).where(AssistanceEnrolment.customer_id == cid))
        assert enrolment.cover_limit_usd == Decimal("1000000.00") and enrolment.status == "active"
        assert enrolment.period_start == dt.date(2026, 1, 1) and enrolment.membership_no.startswith("GA202601-")
        assert s.scalar(select(BenefitUse.cost).where(BenefitUse.source == "enrolment")) == Decimal("300.00")
        assert (
            s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "benefits.granted")) == 1
        )


def test_watchlist_and_standard_customers_get_nothing(database):
    ids = make_customers(database, 2)
    move(database, ids[:1], "watchlist")
    move(database, ids[1:], "standard")
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(EntitlementEntry)) == 0


def test_leaving_vip_stops_watchlist_suspends_and_coming_back_resumes(database):
    a, b = make_customers(database, 2)
    move(database, [a, b], "vip")
    move(database, [a], "standard")
    move(database, [b], "watchlist")
    assert balance(database, a, "vip_coupons") == 0 and balance(database, b, "vip_coupons") == 0
    assert entries(database, a, "vip_coupons")[-1][1:3] == ("stop", -2)
    assert entries(database, b, "vip_coupons")[-1][1:3] == ("suspend", -2)
    with database.session() as s:
        assert set(s.scalars(select(AssistanceEnrolment.status))) == {"ended"}
    move(database, [b], "vip")  # back in the same quarter: no second grant, the balance is resumed
    assert entries(database, b, "vip_coupons")[-1][1:3] == ("resume", 2)
    assert balance(database, b, "vip_coupons") == 2
    with database.session() as s:
        assert s.scalar(select(AssistanceEnrolment.status).where(AssistanceEnrolment.customer_id == b)) == "active"
    renew_entitlements(database, AS_OF)  # the renewal only tops up who has no grant: nothing here
    assert balance(database, b, "vip_coupons") == 2 and balance(database, a, "vip_coupons") == 0


def test_renewal_is_idempotent_under_concurrency(database):
    ids = make_customers(database, 30)
    move(database, ids, "vip")
    next_quarter = dt.date(2027, 1, 5)
    results, barrier = [], threading.Barrier(2)

    def renew():
        barrier.wait()
        results.append(renew_entitlements(database, next_quarter))

    threads = [threading.Thread(target=renew) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 30 * 4]  # one renewal per customer, benefit and period
    assert renew_entitlements(database, next_quarter) == 0
    assert balance(database, ids[0], "vip_coupons", next_quarter) == 4
    assert balance(database, ids[0], "vip_checkup", next_quarter) == 1
    with database.session() as s:
        grants = s.execute(
            select(
                EntitlementEntry.customer_id, EntitlementEntry.benefit_code, EntitlementEntry.period_start, func.count()
            )
            .where(EntitlementEntry.entry_type.in_(("grant", "renew")))
            .group_by(EntitlementEntry.customer_id, EntitlementEntry.benefit_code, EntitlementEntry.period_start)
        ).all()
        assert {r[3] for r in grants} == {1}
        assert s.scalar(select(func.count()).select_from(AssistanceEnrolment)) == 60  # 2026 and 2027


def test_thousands_of_moves_in_bulk(database):
    ids = make_customers(database, 1500, premium=None)
    move(database, ids, "vip")  # (how fast: benchmarks/, not a timing assert on a shared machine)
    move(database, ids[:700], "watchlist")
    with database.session() as s:
        by_type = dict(
            s.execute(select(EntitlementEntry.entry_type, func.count()).group_by(EntitlementEntry.entry_type)).all()
        )
    assert by_type == {"grant": 1500 * 4, "suspend": 700 * 4}


def test_keyed_entries_are_audited_in_events_of_a_bounded_size_each_entry_once(database):
    from crm.benefits.ledger import _audit_keyed

    done = [
        (
            {"benefit": "a", "period_start": "2026-10-01", "entry_type": "grant", "quantity": 2},
            [(i, 100 + i) for i in range(1, 8)],
        ),
        (
            {"benefit": "b", "period_start": "2026-01-01", "entry_type": "grant", "quantity": 1},
            [(i, 100 + i) for i in range(8, 11)],
        ),
    ]
    with database.transaction() as s:
        _audit_keyed(s, ACTOR, done, "benefits.test", per_event=4)
    with database.session() as s:
        events = [
            json.loads(e.after)["keyed"]
            for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "benefits.test").order_by(AuditEvent.seq))
        ]
    assert [sum(len(part["ids"]) for part in event) for event in events] == [4, 4, 2]
    logged = [
        (part["benefit"], i, cid)
        for event in events
        for part in event
        for i, cid in zip(part["ids"], part["customer_ids"])
    ]
    assert logged == [("a", i, 100 + i) for i in range(1, 8)] + [("b", i, 100 + i) for i in range(8, 11)]
