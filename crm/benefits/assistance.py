"""Global emergency assistance (全球紧急救援): enrolments, the 24/7 case log and its spend.

Spend is recorded against the enrolment's remaining cover by one conditional UPDATE
(``spent + amount <= cover``): it either fits and is approved at once, or it is pending until
a risk officer — never the person who recorded it — approves it (four eyes).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.benefits.catalogue import Benefit, Catalogue, period_bounds
from crm.benefits.services import BenefitError
from crm.bulk import IDS_PER_STATEMENT, id_in, id_rows, ids_param, typed_text
from crm.db import UTCDateTime, utcnow
from crm.models import Customer
from crm.models.benefits import CASE_CATEGORIES, AssistanceCase, AssistanceEnrolment, AssistanceSpend


def _chunks(items: list, size: int = 900):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def membership_no(customer_id: int, period_start: dt.date) -> str:
    return f"GA{period_start:%Y%m}-{customer_id:08d}"


# The enrolments of the bound ids (crm.bulk.id_rows) for one period, and the membership fee of
# each one inserted: a statement each, not a row of parameters per customer (a first run
# enrols tens of thousands of new VIPs). The membership number as membership_no makes it.
_MEMBERSHIP_NO = {
    "sqlite": "CAST(:number_head AS TEXT) || printf('%08d', i.value)",
    "postgresql": "CAST(:number_head AS TEXT) || lpad(CAST(i.value AS TEXT), "
    "GREATEST(8, length(CAST(i.value AS TEXT))), '0')",
}
_ENROL = """INSERT INTO assistance_enrolments (customer_id, provider, membership_no, cover_limit_usd, spent_usd,
                                           period_start, period_end, status, created_at)
    SELECT i.value, :provider, {number}, :cover, 0, :start, :end, 'active', :now FROM ({ids}) AS i WHERE true
    ON CONFLICT (customer_id, period_start) DO NOTHING RETURNING id, customer_id"""  # WHERE: for SQLite's parser
_FEES = """INSERT INTO benefit_uses (customer_id, benefit_code, kind, source, source_id, cost, used_on, created_at)
    SELECT e.customer_id, :code, :kind, 'enrolment', e.id, :cost, :used_on, :now FROM assistance_enrolments AS e
    WHERE {enrolment_ids} ORDER BY e.id"""
_REACTIVATE = """UPDATE assistance_enrolments SET status = 'active'
    WHERE {customer_ids} AND period_start = :start AND status = 'ended'"""


def enrol(
    session: Session, actor: audit.Actor, customer_ids: list[int], benefits, as_of: dt.date, catalogue: Catalogue
) -> int:
    """Enrol customers with the assistance provider for the current period (once per period,
    by its unique key), record the membership fee as the benefit's cost, and re-activate an
    enrolment ended earlier this period. Returns how many were newly enrolled."""
    new = 0
    dialect = session.get_bind().dialect.name
    money = AssistanceEnrolment.cover_limit_usd.type
    enrols = typed_text(
        _ENROL.format(number=_MEMBERSHIP_NO[dialect], ids=id_rows(dialect)),
        start=Date(),
        end=Date(),
        now=UTCDateTime(),
        cover=money,
    )
    fees = typed_text(_FEES.format(enrolment_ids=id_in(dialect, "e.id")), used_on=Date(), now=UTCDateTime(), cost=money)
    reactivate = typed_text(_REACTIVATE.format(customer_ids=id_in(dialect, "customer_id")), start=Date())
    for b in (b for b in benefits if b.kind == "emergency_assistance"):
        start, end = period_bounds(b.period, as_of)
        now = utcnow()
        for part in _chunks(list(customer_ids), IDS_PER_STATEMENT):
            done = sorted(
                session.execute(
                    enrols,
                    {
                        "provider": catalogue.assistance_provider,
                        "number_head": membership_no(0, start)[:-8],
                        "cover": b.cover_limit_usd,
                        "start": start,
                        "end": end,
                        "now": now,
                        "ids": ids_param(dialect, part),
                    },
                ).all()
            )
            if done:
                session.execute(
                    fees,
                    {
                        "code": b.code,
                        "kind": b.kind,
                        "cost": b.unit_cost,
                        "used_on": as_of,
                        "now": now,
                        "ids": ids_param(dialect, [i for i, _cid in done]),
                    },
                )
                for chunk in _chunks(done, 2000):
                    audit.record(
                        session,
                        actor,
                        audit.Change(
                            "assistance.enrolled",
                            "assistance_enrolment",
                            None,
                            None,
                            {
                                "enrolments": [[i, cid] for i, cid in chunk],
                                "period_start": start,
                                "cover_limit_usd": b.cover_limit_usd,
                            },
                        ),
                    )
                new += len(done)
            session.execute(reactivate, {"start": start, "ids": ids_param(dialect, part)})
    return new


def end_enrolments(
    session: Session, actor: audit.Actor, customer_ids: list[int], benefits: list[Benefit], as_of: dt.date
) -> None:
    """The current period's enrolments of customers who left the tier end now."""
    if not any(b.kind == "emergency_assistance" for b in benefits):
        return
    ended = 0
    for part in _chunks(list(customer_ids)):
        ended += session.execute(
            update(AssistanceEnrolment)
            .where(
                AssistanceEnrolment.customer_id.in_(part),
                AssistanceEnrolment.status == "active",
                AssistanceEnrolment.period_start <= as_of,
                AssistanceEnrolment.period_end > as_of,
            )
            .values(status="ended")
        ).rowcount
    if ended:
        audit.record(
            session,
            actor,
            audit.Change(
                "assistance.ended",
                "assistance_enrolment",
                None,
                None,
                {"customers": list(customer_ids)[:2000], "ended": ended},
            ),
        )


def current_enrolment(session: Session, customer_id: int, as_of: dt.date) -> AssistanceEnrolment | None:
    return session.scalar(
        select(AssistanceEnrolment).where(
            AssistanceEnrolment.customer_id == customer_id,
            AssistanceEnrolment.period_start <= as_of,
            AssistanceEnrolment.period_end > as_of,
        )
    )


def open_case(
    session: Session,
    actor: audit.Actor,
    customer: Customer,
    category: str,
    country: str,
    summary: str,
    as_of: dt.date,
    user_id: int | None = None,
) -> AssistanceCase:
    """Log a call to the assistance line. Raises BenefitError without an active enrolment."""
    if category not in CASE_CATEGORIES:
        raise BenefitError(_l("unknown case category %(category)s", category=repr(category)))
    enrolment = current_enrolment(session, customer.id, as_of)
    if enrolment is None or enrolment.status != "active":
        raise BenefitError(_l("the customer has no active emergency-assistance enrolment"))
    case = AssistanceCase(
        customer_id=customer.id,
        enrolment_id=enrolment.id,
        category=category,
        country=country.strip()[:60],
        summary=summary.strip()[:500],
        opened_by_id=user_id,
    )
    session.add(case)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "assistance.case_opened",
            "assistance_case",
            case.id,
            None,
            {"customer_id": customer.id, "category": category, "country": case.country},
        ),
    )
    return case


def record_spend(
    session: Session, actor: audit.Actor, case: AssistanceCase, amount_usd: Decimal, note: str = ""
) -> AssistanceSpend:
    """Record spend on an open case: approved if it fits the remaining cover, else pending.

    Raises BenefitError for a closed case or an amount that is not positive.
    """
    if case.status != "open":
        raise BenefitError(_l("the case is closed"))
    if amount_usd <= 0:
        raise BenefitError(_l("the amount must be positive"))
    fits = (
        session.execute(
            update(AssistanceEnrolment)
            .where(
                AssistanceEnrolment.id == case.enrolment_id,
                AssistanceEnrolment.spent_usd + amount_usd <= AssistanceEnrolment.cover_limit_usd,
            )
            .values(spent_usd=AssistanceEnrolment.spent_usd + amount_usd)
        ).rowcount
        == 1
    )
    spend = AssistanceSpend(
        case_id=case.id,
        amount_usd=amount_usd,
        note=note[:200],
        state="approved" if fits else "pending",
        recorded_by=actor.label,
    )
    session.add(spend)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "assistance.spend_recorded",
            "assistance_spend",
            spend.id,
            None,
            {"case_id": case.id, "amount_usd": amount_usd, "state": spend.state},
        ),
    )
    return spend


def decide_spend(session: Session, actor: audit.Actor, spend_id: int, approve: bool) -> AssistanceSpend:
    """A risk officer approves (or rejects) spend beyond the cover.

    Raises BenefitError when the actor is not a risk officer, recorded the spend themselves,
    or the spend is not pending (decided already, possibly at the same moment by another).
    """
    if actor.role != "risk_officer":
        raise BenefitError(_l("only a risk officer may approve spend beyond the cover"))
    spend = session.get(AssistanceSpend, spend_id)
    if spend is None:
        raise BenefitError(_l("no such spend"))
    if spend.recorded_by == actor.label:
        raise BenefitError(_l("the person who recorded the spend cannot approve it"))
    state = "approved" if approve else "rejected"
    done = session.execute(
        update(AssistanceSpend)
        .where(
            AssistanceSpend.id == spend_id,
            AssistanceSpend.state == "pending",
            AssistanceSpend.recorded_by != actor.label,
        )
        .values(state=state, decided_by=actor.label, decided_at=utcnow())
    ).rowcount
    if not done:
        raise BenefitError(_l("the spend is not pending any more"))
    case = session.get(AssistanceCase, spend.case_id)
    if approve:  # beyond the cover by decision: the enrolment's spend goes past its limit
        session.execute(
            update(AssistanceEnrolment)
            .where(AssistanceEnrolment.id == case.enrolment_id)
            .values(spent_usd=AssistanceEnrolment.spent_usd + spend.amount_usd)
        )
    audit.record(
        session,
        actor,
        audit.Change(f"assistance.spend_{state}", "assistance_spend", spend_id, {"state": "pending"}, {"state": state}),
    )
    session.refresh(spend)
    return spend


def close_case(session: Session, actor: audit.Actor, case_id: int) -> None:
    """Close an open case (once). Raises BenefitError when it is closed already."""
    done = session.execute(
        update(AssistanceCase)
        .where(AssistanceCase.id == case_id, AssistanceCase.status == "open")
        .values(status="closed", closed_at=utcnow())
    ).rowcount
    if not done:
        raise BenefitError(_l("the case is closed already"))
    audit.record(
        session,
        actor,
        audit.Change("assistance.case_closed", "assistance_case", case_id, {"status": "open"}, {"status": "closed"}),
    )
