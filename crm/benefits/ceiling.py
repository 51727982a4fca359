"""The benefit-cost ceiling stops, not warns (买椟还珠): a benefit whose cost would take the
customer's benefit cost over the ceiling's share of their premium is given only after a second
person approves an exception for it.

The flow: ``guard`` refuses with OverCeiling; the caller records the request
(``request_exception``); an admin or risk officer other than the requester decides it
(``decide``); the next attempt spends the approved exception (``guard`` again), once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.benefits import reports
from crm.benefits.catalogue import Catalogue
from crm.benefits.services import BenefitError
from crm.db import utcnow
from crm.models.benefits import CostCeilingException

DECIDERS = ("admin", "risk_officer")


class OverCeiling(BenefitError):
    """The benefit would take the customer over the cost ceiling and no approved exception covers it."""

    def __init__(self, customer_id: int, benefit_code: str, amount: Decimal, cost: Decimal, ceiling: Decimal):
        super().__init__(
            f"this benefit (cost {amount:,.2f}) would take the customer's benefit cost of "
            f"{cost:,.2f} over the ceiling of {ceiling:,.2f}: a second person must approve it"
        )
        self.customer_id, self.benefit_code, self.amount, self.cost, self.ceiling = (
            customer_id,
            benefit_code,
            amount,
            cost,
            ceiling,
        )


def guard(
    session: Session,
    actor: audit.Actor,
    customer_id: int,
    benefit_code: str,
    amount: Decimal,
    day: dt.date,
    catalogue: Catalogue,
) -> None:
    """Let a benefit of ``amount`` through: within the ceiling, or by spending an approved exception
    for this customer and benefit that covers it (once: a conditional UPDATE). Raises OverCeiling."""
    standing = reports.cost_vs_premium(session, customer_id, day, catalogue)
    if standing.cost + amount <= standing.ceiling:
        return
    approved = session.scalars(
        select(CostCeilingException.id)
        .where(
            CostCeilingException.customer_id == customer_id,
            CostCeilingException.benefit_code == benefit_code,
            CostCeilingException.state == "approved",
            CostCeilingException.amount >= amount,
        )
        .order_by(CostCeilingException.id)
    ).all()
    for exception_id in approved:
        spent = session.execute(
            update(CostCeilingException)
            .where(CostCeilingException.id == exception_id, CostCeilingException.state == "approved")
            .values(state="used", used_at=utcnow())
        ).rowcount
        if spent:
            audit.record(
                session,
                actor,
                audit.Change(
                    "benefits.ceiling_exception_used",
                    "cost_ceiling_exception",
                    exception_id,
                    {"state": "approved"},
                    {"state": "used"},
                ),
            )
            return
    raise OverCeiling(customer_id, benefit_code, amount, standing.cost, standing.ceiling)


def request_exception(session: Session, actor: audit.Actor, refused: OverCeiling) -> CostCeilingException:
    """Record the request a refusal calls for (one open request per customer and benefit)."""
    existing = session.scalar(
        select(CostCeilingException).where(
            CostCeilingException.customer_id == refused.customer_id,
            CostCeilingException.benefit_code == refused.benefit_code,
            CostCeilingException.state == "requested",
        )
    )
    if existing is not None:
        return existing
    row = CostCeilingException(
        customer_id=refused.customer_id,
        benefit_code=refused.benefit_code,
        amount=refused.amount,
        cost_before=refused.cost,
        ceiling=refused.ceiling,
        requested_by=actor.label,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "benefits.ceiling_exception_requested",
            "cost_ceiling_exception",
            row.id,
            None,
            {
                "customer_id": refused.customer_id,
                "benefit_code": refused.benefit_code,
                "amount": refused.amount,
                "cost": refused.cost,
                "ceiling": refused.ceiling,
            },
        ),
    )
    return row


def decide(session: Session, actor: audit.Actor, exception_id: int, approve: bool) -> CostCeilingException:
    """An admin or risk officer other than the requester approves or rejects an exception.

    Raises BenefitError: the wrong role, the requester deciding, or a request no longer open.
    """
    if actor.role not in DECIDERS:
        raise BenefitError(_l("only an admin or a risk officer may decide a cost ceiling exception"))
    row = session.get(CostCeilingException, exception_id)
    if row is None:
        raise BenefitError(_l("no such request"))
    if row.requested_by == actor.label:
        raise BenefitError(_l("the person who asked for the exception cannot approve it"))
    state = "approved" if approve else "rejected"
    done = session.execute(
        update(CostCeilingException)
        .where(
            CostCeilingException.id == exception_id,
            CostCeilingException.state == "requested",
            CostCeilingException.requested_by != actor.label,
        )
        .values(state=state, decided_by=actor.label, decided_at=utcnow())
    ).rowcount
    if not done:
        raise BenefitError(_l("the request is not open any more"))
    audit.record(
        session,
        actor,
        audit.Change(
            f"benefits.ceiling_exception_{state}",
            "cost_ceiling_exception",
            exception_id,
            {"state": "requested"},
            {"state": state},
        ),
    )
    session.refresh(row)
    return row


def open_requests(session: Session) -> list[CostCeilingException]:
    return list(
        session.scalars(
            select(CostCeilingException)
            .where(CostCeilingException.state == "requested")
            .order_by(CostCeilingException.id)
        )
    )
