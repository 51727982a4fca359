"""Cost and use of benefits, straight from the raw rows (no manual step, totals reconcile).

Definitions (one each, used everywhere):
- annual premium of a customer: the sum of ``annual_premium`` of their policies in force on
  the day (start_date <= day < end_date, not voided: the tier rules' definition, whatever the
  status column says), by SQL;
- benefit cost of a customer: the sum of ``benefit_uses.cost`` with ``used_on`` in the
  365 days up to and including the day;
- the ceiling: the catalogue's ``cost_ceiling_pct`` of the annual premium; cost above it warns;
- per benefit: granted = grant + renew entries; used = units consumed net of returns;
  withdrawn = stopped or suspended net of resumed; expired = what was left in periods that
  have ended; available = what is left in current periods.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from crm.benefits import partner_port
from crm.benefits.catalogue import Catalogue
from crm.benefits.ledger import ENTRIES, chunks
from crm.models import Customer, Policy
from crm.models.benefits import BenefitUse

CENT = Decimal("0.01")


def annual_premiums(session: Session, customer_ids: list[int], day: dt.date) -> dict[int, Decimal]:
    out = {}
    for part in chunks(customer_ids):
        out.update(
            session.execute(
                select(Policy.customer_id, func.sum(Policy.annual_premium))
                .where(
                    Policy.customer_id.in_(part),
                    Policy.start_date <= day,
                    Policy.end_date > day,
                    Policy.voided_at.is_(None),
                )
                .group_by(Policy.customer_id)
            ).all()
        )
    return {k: Decimal(v) for k, v in out.items()}


def _cost_where(day: dt.date):
    return and_(BenefitUse.used_on > day - dt.timedelta(days=365), BenefitUse.used_on <= day)


@dataclass(frozen=True)
class CostVsPremium:
    customer_id: int
    cost: Decimal
    premium: Decimal
    ceiling: Decimal
    pct: Decimal | None  # cost as a % of the premium (None without premium)

    @property
    def over(self) -> bool:
        return self.cost > self.ceiling


def _row(cid: int, cost: Decimal, premium: Decimal, catalogue: Catalogue) -> CostVsPremium:
    ceiling = (premium * catalogue.cost_ceiling_pct / 100).quantize(CENT)
    pct = (cost * 100 / premium).quantize(CENT) if premium else None
    return CostVsPremium(cid, Decimal(cost).quantize(CENT), premium.quantize(CENT), ceiling, pct)


def cost_vs_premium(session: Session, customer_id: int, day: dt.date, catalogue: Catalogue) -> CostVsPremium:
    cost = session.scalar(
        select(func.coalesce(func.sum(BenefitUse.cost), 0)).where(
            BenefitUse.customer_id == customer_id, _cost_where(day)
        )
    )
    premium = annual_premiums(session, [customer_id], day).get(customer_id, Decimal("0"))
    return _row(customer_id, Decimal(cost), premium, catalogue)


def over_ceiling(session: Session, customers_stmt, day: dt.date, catalogue: Catalogue) -> list[tuple]:
    """(Customer, CostVsPremium) for every customer of ``customers_stmt`` (a select of Customer,
    e.g. visible_customers(user)) whose benefit cost exceeds the ceiling, worst first."""
    visible = customers_stmt.with_only_columns(Customer.id).subquery()
    costs = dict(
        session.execute(
            select(BenefitUse.customer_id, func.sum(BenefitUse.cost))
            .where(_cost_where(day), BenefitUse.customer_id.in_(select(visible.c.id)))
            .group_by(BenefitUse.customer_id)
        ).all()
    )
    premiums = annual_premiums(session, list(costs), day)
    rows = [_row(cid, Decimal(cost), premiums.get(cid, Decimal("0")), catalogue) for cid, cost in costs.items()]
    rows = [r for r in rows if r.over]
    by_id = {
        c.id: c
        for part in chunks([r.customer_id for r in rows])
        for c in session.scalars(select(Customer).where(Customer.id.in_(part)))
    }
    rows.sort(key=lambda r: (r.pct is not None, r.pct or 0), reverse=True)
    return [(by_id[r.customer_id], r) for r in rows]


def utilisation_by_benefit(session: Session, day: dt.date) -> dict[str, dict[str, int]]:
    """granted / used / withdrawn / expired / available per benefit code (see the module doc)."""
    t = ENTRIES.c

    def total(types):
        return func.coalesce(func.sum(case((t.entry_type.in_(types), t.quantity), else_=0)), 0)

    out = {
        code: {"granted": int(g), "used": -int(u), "withdrawn": -int(w), "expired": 0, "available": 0}
        for code, g, u, w in session.execute(
            select(
                t.benefit_code,
                total(("grant", "renew")),
                total(("consume", "return")),
                total(("stop", "suspend", "resume")),
            ).group_by(t.benefit_code)
        )
    }
    per_period = (
        select(t.benefit_code, (t.period_end <= day).label("ended"), func.sum(t.quantity).label("left"))
        .group_by(t.benefit_code, t.customer_id, t.period_start, t.period_end)
        .subquery()
    )
    for code, ended, left in session.execute(
        select(per_period.c.benefit_code, per_period.c.ended, func.sum(per_period.c.left))
        .where(per_period.c.left > 0)
        .group_by(per_period.c.benefit_code, per_period.c.ended)
    ):
        out[code]["expired" if ended else "available"] += int(left)
    return out


def utilisation_by_partner(session: Session) -> list[dict]:
    """Coupons per partner (the partners package counts them): issued, redeemed, expired, voided."""
    return partner_port.partner_coupons().utilisation_by_partner(session)


def cost_by_kind(session: Session, day: dt.date, customers_stmt=None) -> dict[str, Decimal]:
    stmt = select(BenefitUse.kind, func.sum(BenefitUse.cost)).where(_cost_where(day)).group_by(BenefitUse.kind)
    if customers_stmt is not None:
        stmt = stmt.where(BenefitUse.customer_id.in_(select(customers_stmt.with_only_columns(Customer.id).subquery())))
    return {kind: Decimal(v).quantize(CENT) for kind, v in session.execute(stmt)}
