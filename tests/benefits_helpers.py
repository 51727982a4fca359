"""Builders for the benefits tests: customers in bulk, tier moves published as the engine does."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from sqlalchemy import func, select

from crm import audit, events
from crm.models import Customer, CustomerTier, Policy, TierRun
from crm.models.benefits import EntitlementEntry

ACTOR = audit.Actor("system", "tests")
AS_OF = dt.date(2026, 11, 24)
_refs = itertools.count(1)


def make_customers(database, n: int, manager_id: int | None = None, premium: str | None = "100000.00") -> list[int]:
    """``n`` customers (with one in-force policy of ``premium`` a year each); returns their ids."""
    with database.transaction() as s:
        rows = []
        for _ in range(n):
            k = next(_refs)
            rows.append(
                {
                    "customer_ref": f"B{k:07d}",
                    "name": f"客户{k}",
                    "id_number": f"11010519600101{k % 10000:04d}",
                    "birth_date": dt.date(1960, 1, 1),
                    "gender": "M",
                    "phone": f"139{k:08d}",
                    "city": "北京",
                    "source": "referral",
                    "account_manager_id": manager_id,
                }
            )
        s.execute(Customer.__table__.insert(), rows)
        ids = list(
            s.scalars(
                select(Customer.id)
                .where(Customer.customer_ref.in_([r["customer_ref"] for r in rows]))
                .order_by(Customer.id)
            )
        )
        if premium is not None:
            s.execute(
                Policy.__table__.insert(),
                [
                    {
                        "policy_no": f"BP{cid:08d}",
                        "customer_id": cid,
                        "product_code": "LIFE-20",
                        "product_type": "life",
                        "start_date": dt.date(2020, 1, 1),
                        "end_date": dt.date(2040, 1, 1),
                        "term_years": 20,
                        "payment_mode": "annual",
                        "annual_premium": Decimal(premium),
                        "status": "in_force",
                    }
                    for cid in ids
                ],
            )
        return ids


def move(database, ids: list[int], new_tier: str, as_of: dt.date = AS_OF) -> None:
    """Set the customers' tier and publish TiersChanged in the same transaction, as a run does."""
    with database.transaction() as s:
        run = TierRun(mode="publish", state="completed", trigger="cli", started_by="tests", as_of=as_of)
        s.add(run)
        s.flush()
        old = dict(
            s.execute(
                select(CustomerTier.customer_id, CustomerTier.tier).where(CustomerTier.customer_id.in_(ids))
            ).all()
        )
        for cid in ids:
            if cid in old:
                s.get(CustomerTier, cid).tier = new_tier
            else:
                s.add(CustomerTier(customer_id=cid, tier=new_tier, computed_tier=new_tier, as_of=as_of))
        s.flush()
        moves = tuple(events.TierMove(cid, old.get(cid), new_tier) for cid in ids if old.get(cid) != new_tier)
        events.publish(s, events.TiersChanged(moves, run.id, ACTOR))


def balance(database, customer_id: int, code: str, day: dt.date = AS_OF) -> int:
    with database.session() as s:
        return s.scalar(
            select(func.coalesce(func.sum(EntitlementEntry.quantity), 0)).where(
                EntitlementEntry.customer_id == customer_id,
                EntitlementEntry.benefit_code == code,
                EntitlementEntry.period_start <= day,
                EntitlementEntry.period_end > day,
            )
        )


def entries(database, customer_id: int, code: str | None = None) -> list[tuple]:
    with database.session() as s:
        stmt = select(
            EntitlementEntry.benefit_code,
            EntitlementEntry.entry_type,
            EntitlementEntry.quantity,
            EntitlementEntry.period_start,
        ).where(EntitlementEntry.customer_id == customer_id)
        if code:
            stmt = stmt.where(EntitlementEntry.benefit_code == code)
        return [tuple(r) for r in s.execute(stmt.order_by(EntitlementEntry.id))]


RISK_OFFICER = audit.Actor("user", "risk-officer@test.crm", "999", "risk_officer")


def beyond_ceiling(database, give):
    """Give a benefit that is over the customer's cost ceiling, as the product allows it: refused,
    an exception requested, a risk officer approves it, given. ``give(session)`` returns the result."""
    from crm.benefits import ceiling

    try:
        with database.transaction() as s:
            return give(s)
    except ceiling.OverCeiling as refused:
        with database.transaction() as s:
            request = ceiling.request_exception(s, ACTOR, refused)
            ceiling.decide(s, RISK_OFFICER, request.id, True)
    with database.transaction() as s:
        return give(s)
