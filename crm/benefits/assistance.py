"""Global emergency assistance (全球紧急救援): enrolments, the 24/7 case log and its spend.

Spend is recorded against the enrolment's remaining cover by one conditional UPDATE
(``spent + amount <= cover``): it either fits and is approved at once, or it is pending until
a risk officer — never the person who recorded it — approves it (four eyes).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crm import audit
from crm.benefits.catalogue import Benefit, Catalogue, period_bounds
from crm.benefits.services import BenefitError
from crm.db import utcnow
from crm.models import Customer
from crm.models.benefits import (CASE_CATEGORIES, AssistanceCase, AssistanceEnrolment, AssistanceSpend,
                                 BenefitUse)

ENROLMENTS = AssistanceEnrolment.__table__


def _chunks(items: list, size: int = 900):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def membership_no(customer_id: int, period_start: dt.date) -> str:
    return f"GA{period_start:%Y%m}-{customer_id:08d}"


def enrol(session: Session, actor: audit.Actor, customer_ids: list[int], benefits, as_of: dt.date,
          catalogue: Catalogue) -> int:
    """Enrol customers with the assistance provider for the current period (once per period,
    by its unique key), record the membership fee as the benefit's cost, and re-activate an
    enrolment ended earlier this period. Returns how many were newly enrolled."""
    new = 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for b in (b for b in benefits if b.kind == "emergency_assistance"):
        start, end = period_bounds(b.period, as_of)
        for part in _chunks(list(customer_ids)):
            rows = [{"customer_id": cid, "provider": catalogue.assistance_provider,
                     "membership_no": membership_no(cid, start), "cover_limit_usd": b.cover_limit_usd,
                     "spent_usd": Decimal("0"), "period_start": start, "period_end": end, "status": "active",
                     "created_at": utcnow()} for cid in part]
            done = session.execute(insert(ENROLMENTS).on_conflict_do_nothing(
                index_elements=["customer_id", "period_start"]).returning(ENROLMENTS.c.id, ENROLMENTS.c.customer_id),
                rows).all()
            if done:
                session.execute(BenefitUse.__table__.insert(), [{
                    "customer_id": r.customer_id, "benefit_code": b.code, "kind": b.kind, "source": "enrolment",
                    "source_id": r.id, "cost": b.unit_cost, "used_on": as_of, "created_at": utcnow()} for r in done])
                audit.record(session, actor, audit.Change("assistance.enrolled", "assistance_enrolment", None, None, {
                    "enrolments": [[r.id, r.customer_id] for r in done], "period_start": start,
                    "cover_limit_usd": b.cover_limit_usd}))
                new += len(done)
            session.execute(update(AssistanceEnrolment).where(
                AssistanceEnrolment.customer_id.in_(part), AssistanceEnrolment.period_start == start,
                AssistanceEnrolment.status == "ended").values(status="active"))
    return new


def end_enrolments(session: Session, actor: audit.Actor, customer_ids: list[int], benefits: list[Benefit],
                   as_of: dt.date) -> None:
    """The current period's enrolments of customers who left the tier end now."""
    if not any(b.kind == "emergency_assistance" for b in benefits):
        return
    ended = 0
    for part in _chunks(list(customer_ids)):
        ended += session.execute(update(AssistanceEnrolment).where(
            AssistanceEnrolment.customer_id.in_(part), AssistanceEnrolment.status == "active",
            AssistanceEnrolment.period_start <= as_of, AssistanceEnrolment.period_end > as_of)
            .values(status="ended")).rowcount
    if ended:
        audit.record(session, actor, audit.Change("assistance.ended", "assistance_enrolment", None, None,
                                                  {"customers": list(customer_ids)[:2000], "ended": ended}))


def current_enrolment(session: Session, customer_id: int, as_of: dt.date) -> AssistanceEnrolment | None:
    return session.scalar(select(AssistanceEnrolment).where(
        AssistanceEnrolment.customer_id == customer_id, AssistanceEnrolment.period_start <= as_of,
        AssistanceEnrolment.period_end > as_of))


def open_case(session: Session, actor: audit.Actor, customer: Customer, category: str, country: str,
              summary: str, as_of: dt.date, user_id: int | None = None) -> AssistanceCase:
    """Log a call to the assistance line. Raises BenefitError without an active enrolment."""
    if category not in CASE_CATEGORIES:
        raise BenefitError(f"unknown case category {category!r}")
    enrolment = current_enrolment(session, customer.id, as_of)
    if enrolment is None or enrolment.status != "active":
        raise BenefitError("the customer has no active emergency-assistance enrolment")
    case = AssistanceCase(customer_id=customer.id, enrolment_id=enrolment.id, category=category,
                          country=country.strip()[:60], summary=summary.strip()[:500], opened_by_id=user_id)
    session.add(case)
    session.flush()
    audit.record(session, actor, audit.Change("assistance.case_opened", "assistance_case", case.id, None, {
        "customer_id": customer.id, "category": category, "country": case.country}))
    return case


def record_spend(session: Session, actor: audit.Actor, case: AssistanceCase, amount_usd: Decimal,
                 note: str = "") -> AssistanceSpend:
    """Record spend on an open case: approved if it fits the remaining cover, else pending.

    Raises BenefitError for a closed case or an amount that is not positive.
    """
    if case.status != "open":
        raise BenefitError("the case is closed")
    if amount_usd <= 0:
        raise BenefitError("the amount must be positive")
    fits = session.execute(update(AssistanceEnrolment).where(
        AssistanceEnrolment.id == case.enrolment_id,
        AssistanceEnrolment.spent_usd + amount_usd <= AssistanceEnrolment.cover_limit_usd)
        .values(spent_usd=AssistanceEnrolment.spent_usd + amount_usd)).rowcount == 1
    spend = AssistanceSpend(case_id=case.id, amount_usd=amount_usd, note=note[:200],
                            state="approved" if fits else "pending", recorded_by=actor.label)
    session.add(spend)
    session.flush()
    audit.record(session, actor, audit.Change("assistance.spend_recorded", "assistance_spend", spend.id, None, {
        "case_id": case.id, "amount_usd": amount_usd, "state": spend.state}))
    return spend


def decide_spend(session: Session, actor: audit.Actor, spend_id: int, approve: bool) -> AssistanceSpend:
    """A risk officer approves (or rejects) spend beyond the cover.

    Raises BenefitError when the actor is not a risk officer, recorded the spend themselves,
    or the spend is not pending (decided already, possibly at the same moment by another).
    """
    if actor.role != "risk_officer":
        raise BenefitError("only a risk officer may approve spend beyond the cover")
    spend = session.get(AssistanceSpend, spend_id)
    if spend is None:
        raise BenefitError("no such spend")
    if spend.recorded_by == actor.label:
        raise BenefitError("the person who recorded the spend cannot approve it")
    state = "approved" if approve else "rejected"
    done = session.execute(update(AssistanceSpend).where(
        AssistanceSpend.id == spend_id, AssistanceSpend.state == "pending",
        AssistanceSpend.recorded_by != actor.label).values(
        state=state, decided_by=actor.label, decided_at=utcnow())).rowcount
    if not done:
        raise BenefitError("the spend is not pending any more")
    case = session.get(AssistanceCase, spend.case_id)
    if approve:  # beyond the cover by decision: the enrolment's spend goes past its limit
        session.execute(update(AssistanceEnrolment).where(AssistanceEnrolment.id == case.enrolment_id)
                        .values(spent_usd=AssistanceEnrolment.spent_usd + spend.amount_usd))
    audit.record(session, actor, audit.Change(f"assistance.spend_{state}", "assistance_spend", spend_id,
                                              {"state": "pending"}, {"state": state}))
    session.refresh(spend)
    return spend


def close_case(session: Session, actor: audit.Actor, case_id: int) -> None:
    """Close an open case (once). Raises BenefitError when it is closed already."""
    done = session.execute(update(AssistanceCase).where(AssistanceCase.id == case_id, AssistanceCase.status == "open")
                           .values(status="closed", closed_at=utcnow())).rowcount
    if not done:
        raise BenefitError("the case is closed already")
    audit.record(session, actor, audit.Change("assistance.case_closed", "assistance_case", case_id,
                                              {"status": "open"}, {"status": "closed"}))
