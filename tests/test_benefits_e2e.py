"""End to end: the demo portfolio, a real recalculation publishing TiersChanged, the CLI renewal."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from crm import audit
from crm.demo import seed_demo
from crm.jobs import recalc
from crm.models import CustomerTier, TierOverride, User
from crm.models.benefits import AssistanceCase, EntitlementEntry, HealthBooking, HealthProvider
from tests.benefits_helpers import AS_OF

LATER = AS_OF + dt.timedelta(days=30)  # the same quarter: balances carry over


def _coupon_balances(database, day):
    with database.session() as s:
        tiers = dict(s.execute(select(CustomerTier.customer_id, CustomerTier.tier)).all())
        left = dict(
            s.execute(
                select(EntitlementEntry.customer_id, func.sum(EntitlementEntry.quantity))
                .where(
                    EntitlementEntry.benefit_code == "vip_coupons",
                    EntitlementEntry.period_start <= day,
                    EntitlementEntry.period_end > day,
                )
                .group_by(EntitlementEntry.customer_id)
            ).all()
        )
    return tiers, left


def test_recalculation_moves_drive_the_entitlements(database, runner):
    seed_demo(database, 250, seed=3, as_of=AS_OF)
    tiers, left = _coupon_balances(database, AS_OF)
    vips = {cid for cid, tier in tiers.items() if tier == "vip"}
    assert vips and {cid for cid, n in left.items() if n > 0} == vips
    assert all(left[cid] == 2 for cid in vips)  # joined on 24 Nov: 4 × 38/92 rounded up
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(HealthProvider)) == 6
        assert s.scalar(select(func.count()).select_from(HealthBooking)) >= 1
        assert s.scalar(select(func.count()).select_from(AssistanceCase)) == 1

    promoted = sorted(cid for cid, t in tiers.items() if t == "standard")[:3]
    watched, demoted = sorted(vips)[:2], sorted(vips)[2:3]
    with database.transaction() as s:  # pinned tiers: the engine applies them, as a person asked
        user_id = s.scalar(select(User.id).limit(1))
        for ids, tier in ((promoted, "vip"), (watched, "watchlist"), (demoted, "standard")):
            s.add_all(
                TierOverride(
                    customer_id=cid,
                    tier=tier,
                    reason="test",
                    expires_on=LATER + dt.timedelta(days=90),
                    status="active",
                    requested_by_id=user_id,
                )
                for cid in ids
            )
    recalc.recalculate(
        database, recalc.RunRequest(as_of=LATER, actor=audit.Actor("system", "tests"), model_sample=None)
    )
    tiers, left = _coupon_balances(database, LATER)
    assert {cid for cid, n in left.items() if n > 0} == {cid for cid, t in tiers.items() if t == "vip"}
    assert all(tiers[cid] == "vip" and left[cid] == 1 for cid in promoted)  # 4 × 8/92 rounded up
    assert all(tiers[cid] == "watchlist" for cid in watched) and all(tiers[cid] == "standard" for cid in demoted)
    assert all(left.get(cid, 0) == 0 for cid in watched + demoted)
    with database.session() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(EntitlementEntry)
                .where(
                    EntitlementEntry.entry_type == "suspend",
                    EntitlementEntry.benefit_code == "vip_coupons",
                    EntitlementEntry.customer_id.in_(watched),
                )
            )
            == 2
        )

    result = runner.invoke(args=["benefits", "renew", "--as-of", "2027-01-05"])
    assert result.exit_code == 0, result.output
    tiers, left = _coupon_balances(database, dt.date(2027, 1, 5))
    assert all(left.get(cid) == 4 for cid, t in tiers.items() if t == "vip")
    again = runner.invoke(args=["benefits", "renew", "--as-of", "2027-01-05"])
    assert again.exit_code == 0 and ": 0 new" in again.output
    bad = runner.invoke(args=["benefits", "renew", "--as-of", "someday"])
    assert bad.exit_code != 0 and "not a date" in bad.output
