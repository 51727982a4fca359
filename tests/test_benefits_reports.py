"""Coupons from entitlements, the cost ceiling, and utilisation reconciled with the raw rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.benefits import coupons, health, reports
from crm.benefits.catalogue import current_catalogue, save_catalogue
from crm.benefits.services import BenefitError
from crm.customers.services import visible_customers
from crm.models import Customer, Policy, User
from crm.models.benefits import BenefitUse, EntitlementEntry
from partners.models import Coupon
from partners.services import create_partner
from tests.benefits_helpers import ACTOR, AS_OF, balance, beyond_ceiling, make_customers, move

LATER = dt.date(2027, 2, 10)


def _partner(database) -> int:
    with database.transaction() as s:
        return create_partner(s, ACTOR, "海底捞火锅", "dining")[0].id


def _coupon(database, cid, partner_id, day=AS_OF):
    with database.transaction() as s:
        return coupons.issue_from_entitlement(
            s, ACTOR, s.get(Customer, cid), partner_id, day + dt.timedelta(days=60), day
        )


def test_coupons_come_from_the_entitlement(database):
    [cid] = make_customers(database, 1)
    move(database, [cid], "vip")
    partner_id = _partner(database)
    first = _coupon(database, cid, partner_id)
    _coupon(database, cid, partner_id)
    assert balance(database, cid, "vip_coupons") == 0
    with pytest.raises(BenefitError, match="no entitlement left"):
        _coupon(database, cid, partner_id)
    with database.session() as s:
        coupon = s.get(Coupon, first.id)
        entry = s.get(EntitlementEntry, coupon.entitlement_id)
        assert (entry.entry_type, entry.customer_id, coupon.value) == ("consume", cid, Decimal("100.00"))
        assert s.scalar(
            select(BenefitUse.cost).where(BenefitUse.source == "coupon", BenefitUse.source_id == first.id)
        ) == Decimal("100.00")
    assert reports.utilisation_by_partner(database.session())[0]["issued"] == 2


def test_leaving_vip_keeps_coupons_unless_the_policy_voids_them(database):
    a, b = make_customers(database, 2)
    move(database, [a, b], "vip")
    partner_id = _partner(database)
    kept, voided = _coupon(database, a, partner_id), _coupon(database, b, partner_id)
    move(database, [a], "standard")
    with database.transaction() as s:
        save_catalogue(s, ACTOR, dataclasses.replace(current_catalogue(s), void_coupons_on_exit=True), "policy")
    move(database, [b], "standard")
    with database.session() as s:
        assert s.get(Coupon, kept.id).status == "issued" and s.get(Coupon, voided.id).status == "voided"


def test_cost_ceiling_warns_for_the_vip_whose_benefits_outweigh_the_premium(database, make_user):
    manager_id, _ = make_user("account_manager")
    modest, big = make_customers(database, 1, manager_id, premium="20000.00") + make_customers(
        database, 1, manager_id, premium="200000.00"
    )
    move(database, [modest, big], "vip")
    with database.transaction() as s:
        provider = health.add_provider(s, ACTOR, "上海瑞金医院健康管理中心", "全面体检", "上海", Decimal("2680.00"))
    booking = beyond_ceiling(
        database,
        lambda s: health.book(
            s, ACTOR, manager_id, s.get(Customer, modest), "checkup", AS_OF, AS_OF, provider_id=provider.id
        ),
    )
    with database.transaction() as s:
        for state in ("confirmed", "attended"):
            health.transition(s, ACTOR, booking.id, state, AS_OF)
    with database.session() as s:
        catalogue = current_catalogue(s)
        row = reports.cost_vs_premium(s, modest, AS_OF, catalogue)
        assert (row.cost, row.premium, row.ceiling, row.over) == (
            Decimal("2980.00"),
            Decimal("20000.00"),
            Decimal("1000.00"),
            True,
        )
        assert row.pct == Decimal("14.90")
        assert not reports.cost_vs_premium(s, big, AS_OF, catalogue).over  # 300 of a 10,000 ceiling
        manager = s.get(User, manager_id)
        over = reports.over_ceiling(s, visible_customers(manager), AS_OF, catalogue)
        assert [(c.id, r.cost) for c, r in over] == [(modest, Decimal("2980.00"))]
        # a year later the checkup has left the 365-day window
        assert not reports.cost_vs_premium(s, modest, AS_OF + dt.timedelta(days=365), catalogue).over


def test_utilisation_reconciles_with_the_raw_ledger(database):
    ids = make_customers(database, 6)
    move(database, ids, "vip")
    partner_id = _partner(database)
    _coupon(database, ids[0], partner_id)
    move(database, ids[:2], "watchlist")
    move(database, ids[4:], "standard")
    with database.session() as s:
        got = reports.utilisation_by_benefit(s, LATER)  # Q4 2026 has ended by then: its coupons expired
        raw = list(
            s.execute(
                select(
                    EntitlementEntry.benefit_code,
                    EntitlementEntry.customer_id,
                    EntitlementEntry.period_start,
                    EntitlementEntry.period_end,
                    EntitlementEntry.entry_type,
                    EntitlementEntry.quantity,
                )
            )
        )
    expected: dict = defaultdict(lambda: defaultdict(int))
    left: dict = defaultdict(int)
    for code, cid, start, end, kind, qty in raw:
        sign = {"grant": "granted", "renew": "granted", "consume": "used", "return": "used"}.get(kind, "withdrawn")
        expected[code][sign] += qty if sign == "granted" else -qty
        left[(code, cid, start, end)] += qty
    for (code, _, _, end), qty in left.items():
        if qty > 0:
            expected[code]["expired" if end <= LATER else "available"] += qty
    assert got == {
        code: {k: v.get(k, 0) for k in ("granted", "used", "withdrawn", "expired", "available")}
        for code, v in expected.items()
    }
    assert got["vip_coupons"] == {"granted": 12, "used": 1, "withdrawn": 7, "expired": 4, "available": 0}


def test_the_automatic_assistance_membership_is_a_cost_not_a_use(database):
    from crm.workspace.snapshots import figures, take_snapshot

    first, second = make_customers(database, 2)
    move(database, [first, second], "vip")  # entitled; both enrolled for assistance, its fee recorded
    take_snapshot(database, AS_OF, "before", ACTOR)
    with database.session() as s:
        before = figures(s, "all")[1]["benefits"]
        fees = s.scalar(select(func.sum(BenefitUse.cost)).where(BenefitUse.source == "enrolment"))
    assert fees > 0
    assert (before["entitled"], before["users"], before["uses"], before["utilisation"]) == (2, 0, 0, 0.0)
    assert Decimal(str(before["cost"])) == fees
    _coupon(database, first, _partner(database))
    take_snapshot(database, AS_OF, "after", ACTOR)
    with database.session() as s:
        after = figures(s, "all")[1]["benefits"]
    assert (after["users"], after["uses"], after["utilisation"]) == (1, 1, 0.5)
    assert Decimal(str(after["cost"])) == fees + Decimal("100.00")


def test_annual_premium_is_the_premium_in_cover_whatever_the_status_says(database):
    """One definition with the tier engine: policies whose cover includes the day, not voided."""
    [cid] = make_customers(database, 1, premium="20000.00")
    with database.transaction() as s:
        policy = s.scalar(select(Policy).where(Policy.customer_id == cid))
        policy.status = "lapsed"  # a status not yet brought in line with the cover dates
    with database.session() as s:
        assert reports.annual_premiums(s, [cid], AS_OF) == {cid: Decimal("20000.00")}


def test_a_coupon_over_the_cost_ceiling_needs_a_second_person(database):
    from crm.audit import Actor
    from crm.benefits import ceiling

    [cid] = make_customers(database, 1, premium="7000.00")  # a 5% ceiling of ¥350; a coupon costs ¥100
    move(database, [cid], "vip")
    with database.session() as s:
        standing = reports.cost_vs_premium(s, cid, AS_OF, current_catalogue(s))
    assert standing.cost <= standing.ceiling < standing.cost + Decimal("100.00")  # the membership fee fits
    partner_id = _partner(database)
    manager = Actor("user", "am@test.crm", "7", "account_manager")
    risk, admin = Actor("user", "risk@test.crm", "8", "risk_officer"), Actor("user", "admin@test.crm", "9", "admin")
    with pytest.raises(ceiling.OverCeiling) as refused, database.transaction() as s:
        coupons.issue_from_entitlement(
            s, manager, s.get(Customer, cid), partner_id, AS_OF + dt.timedelta(days=60), AS_OF
        )
    with database.transaction() as s:
        request = ceiling.request_exception(s, manager, refused.value)
        assert ceiling.request_exception(s, manager, refused.value).id == request.id  # one open request
    with database.transaction() as s:
        with pytest.raises(BenefitError, match="cannot approve"):
            ceiling.decide(s, Actor("user", "am@test.crm", "7", "admin"), request.id, True)  # the requester
        with pytest.raises(BenefitError, match="only an admin or a risk officer"):
            ceiling.decide(s, Actor("user", "other@test.crm", "6", "account_manager"), request.id, True)
        ceiling.decide(s, risk, request.id, True)
    with database.transaction() as s:
        coupon = coupons.issue_from_entitlement(
            s, manager, s.get(Customer, cid), partner_id, AS_OF + dt.timedelta(days=60), AS_OF
        )
    assert coupon.id
    with pytest.raises(ceiling.OverCeiling), database.transaction() as s:  # the exception was spent: once
        coupons.issue_from_entitlement(
            s, manager, s.get(Customer, cid), partner_id, AS_OF + dt.timedelta(days=60), AS_OF
        )
    with database.transaction() as s:
        with pytest.raises(BenefitError, match="not open"):
            ceiling.decide(s, admin, request.id, False)
