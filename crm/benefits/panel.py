"""benefits: the panel on the customer page — entitlements, bookings (masked), assistance,
cost against premium with the ceiling warning, and the account manager's actions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm.benefits import health, ledger, reports
from crm.benefits.assistance import current_enrolment
from crm.benefits.catalogue import current_catalogue, period_bounds
from crm.benefits.services import may_serve, sees_health_details
from crm.clock import business_today
from crm.models.benefits import AssistanceCase, EntitlementEntry


def customer_panel(session, user, customer) -> dict | None:
    """A dict with 'template' and its context, or None to show nothing."""
    if user.role == "partner_cashier":
        return None
    day = business_today()
    catalogue = current_catalogue(session)
    tier = ledger.current_tier(session, customer.id)
    has_history = (
        session.scalar(select(EntitlementEntry.id).where(EntitlementEntry.customer_id == customer.id).limit(1))
        is not None
    )
    if not catalogue.for_tier(tier or "") and not has_history:
        return None
    codes = {b.code for b in catalogue.benefits} | set(
        session.scalars(
            select(EntitlementEntry.benefit_code).where(EntitlementEntry.customer_id == customer.id).distinct()
        )
    )
    left = ledger.balances(session, [customer.id], codes, day)
    lines = []
    for b in catalogue.benefits:
        if b.tier == tier or (customer.id, b.code) in left:
            start, end = period_bounds(b.period, day)
            lines.append(
                {
                    "benefit": b,
                    "balance": left.get((customer.id, b.code), 0),
                    "period_start": start,
                    "period_last_day": end - dt.timedelta(days=1),
                    "active": b.tier == tier,
                }
            )
    enrolment = current_enrolment(session, customer.id, day)
    recent = list(
        session.scalars(
            select(EntitlementEntry)
            .where(EntitlementEntry.customer_id == customer.id)
            .order_by(EntitlementEntry.id.desc())
            .limit(8)
        )
    )
    return {
        "template": "benefits/_customer_panel.html",
        "benefit_lines": lines,
        "benefit_entries": recent,
        "benefit_tier": tier,
        "health_bookings": health.bookings_for(session, [customer.id], limit=10),
        "health_details_allowed": sees_health_details(user, customer),
        "can_serve": may_serve(user, customer) and tier is not None and bool(catalogue.for_tier(tier)),
        "enrolment": enrolment,
        "enrolment_last_day": enrolment.period_end - dt.timedelta(days=1) if enrolment else None,
        "assistance_cases": list(
            session.scalars(
                select(AssistanceCase)
                .where(AssistanceCase.customer_id == customer.id)
                .order_by(AssistanceCase.id.desc())
                .limit(5)
            )
        ),
        "benefit_cost": reports.cost_vs_premium(session, customer.id, day, catalogue),
        "cost_ceiling_pct": catalogue.cost_ceiling_pct,
    }
