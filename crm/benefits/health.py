"""Health services: checkup providers, checkup bookings and hospital appointment requests.

A booking takes its unit of the entitlement when it is made (a ``consume`` entry, so that
the last unit cannot be booked twice); ``attended`` or ``no_show`` make the use final and
record its cost; ``cancelled`` returns the unit. Every state change is one conditional
UPDATE (``… WHERE state IN (allowed sources)``) whose row count says whether it happened.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.benefits import ceiling, ledger
from crm.benefits.catalogue import current_catalogue
from crm.benefits.services import BenefitError
from crm.db import utcnow
from crm.models import Customer
from crm.models.benefits import BenefitUse, EntitlementEntry, HealthBooking, HealthProvider

# to-state → the states it may come from
TRANSITIONS = {
    "confirmed": ("requested",),
    "attended": ("confirmed",),
    "no_show": ("confirmed",),
    "cancelled": ("requested", "confirmed"),
}
KIND_BENEFIT = {"checkup": "health_checkup", "appointment": "appointment_booking"}


def add_provider(
    session: Session, actor: audit.Actor, hospital: str, package: str, city: str, price: Decimal
) -> HealthProvider:
    """A checkup provider (a hospital's package at a price). Raises BenefitError for bad input."""
    if not hospital.strip() or not package.strip() or price is None or price < 0:
        raise BenefitError(_l("a provider needs a hospital, a package and a price that is not negative"))
    provider = HealthProvider(
        hospital=hospital.strip()[:100], package=package.strip()[:100], city=city.strip()[:50], price=price
    )
    session.add(provider)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "health.provider_added",
            "health_provider",
            provider.id,
            None,
            {"hospital": provider.hospital, "package": provider.package, "city": provider.city, "price": price},
        ),
    )
    return provider


def set_provider_active(session: Session, actor: audit.Actor, provider_id: int, active: bool) -> None:
    done = session.execute(
        update(HealthProvider)
        .where(HealthProvider.id == provider_id, HealthProvider.active.is_(not active))
        .values(active=active)
    ).rowcount
    if done:
        audit.record(
            session,
            actor,
            audit.Change(
                "health.provider_" + ("activated" if active else "deactivated"),
                "health_provider",
                provider_id,
                {"active": not active},
                {"active": active},
            ),
        )


def providers(session: Session, active_only: bool = True) -> list[HealthProvider]:
    stmt = select(HealthProvider).order_by(HealthProvider.city, HealthProvider.hospital, HealthProvider.package)
    if active_only:
        stmt = stmt.where(HealthProvider.active.is_(True))
    return list(session.scalars(stmt))


def book(
    session: Session,
    actor: audit.Actor,
    user_id: int,
    customer: Customer,
    kind: str,
    preferred_date: dt.date,
    as_of: dt.date,
    provider_id: int | None = None,
    hospital: str = "",
    department: str = "",
) -> HealthBooking:
    """Book a checkup (at an active provider) or request a hospital appointment for a customer
    with an entitlement left; takes the unit now.

    Raises BenefitError: unknown kind or provider, a date in the past, no such benefit in the
    customer's tier, or none left this period; OverCeiling when its cost needs a second person.
    """
    if kind not in KIND_BENEFIT:
        raise BenefitError(_l("unknown booking kind %(kind)s", kind=repr(kind)))
    if preferred_date < as_of:
        raise BenefitError(_l("the preferred date is in the past"))
    tier = ledger.current_tier(session, customer.id)
    benefit = current_catalogue(session).of_kind(tier or "", KIND_BENEFIT[kind])
    if benefit is None:
        raise BenefitError(_l("the customer's tier has no such benefit"))
    if kind == "checkup":
        provider = session.get(HealthProvider, provider_id) if provider_id else None
        if provider is None or not provider.active:
            raise BenefitError(_l("choose an active checkup provider"))
        hospital, detail, cost = provider.hospital, provider.package, provider.price
    else:
        if not hospital.strip() or not department.strip():
            raise BenefitError(_l("an appointment needs a hospital and a department"))
        provider, detail, cost = None, department.strip()[:200], benefit.unit_cost
    ceiling.guard(session, actor, customer.id, benefit.code, cost, as_of, current_catalogue(session))
    entry = ledger.take_unit(session, actor, customer.id, benefit, as_of, f"{kind} booking")
    booking = HealthBooking(
        customer_id=customer.id,
        kind=kind,
        provider_id=provider.id if provider else None,
        hospital=hospital.strip()[:100],
        detail=detail,
        preferred_date=preferred_date,
        benefit_code=benefit.code,
        entry_id=entry.id,
        cost=cost,
        created_by_id=user_id,
    )
    session.add(booking)
    session.flush()
    # No hospital or package in the trail: they are health data; the booking row holds them.
    audit.record(
        session,
        actor,
        audit.Change(
            "health.booking_requested",
            "health_booking",
            booking.id,
            None,
            {"customer_id": customer.id, "kind": kind, "entry_id": entry.id},
        ),
    )
    return booking


def transition(session: Session, actor: audit.Actor, booking_id: int, to_state: str, as_of: dt.date) -> HealthBooking:
    """Move a booking to ``to_state``; attended/no-show record the cost, cancelled returns the unit.

    Raises BenefitError for an unknown state or when the booking is not in a state it may
    leave that way (e.g. cancelled already, possibly by someone else a moment ago).
    """
    sources = TRANSITIONS.get(to_state)
    if sources is None:
        raise BenefitError(_l("unknown booking state %(state)s", state=repr(to_state)))
    booking = session.get(HealthBooking, booking_id)
    if booking is None:
        raise BenefitError(_l("no such booking"))
    before = booking.state
    done = session.execute(
        update(HealthBooking)
        .where(HealthBooking.id == booking_id, HealthBooking.state.in_(sources))
        .values(state=to_state, updated_at=utcnow())
    ).rowcount
    if not done:
        raise BenefitError(_l("a booking that is %(before)s cannot become %(after)s", before=before, after=to_state))
    session.refresh(booking)
    if to_state in ("attended", "no_show"):
        session.add(
            BenefitUse(
                customer_id=booking.customer_id,
                benefit_code=booking.benefit_code,
                kind=KIND_BENEFIT[booking.kind],
                source="booking",
                source_id=booking.id,
                cost=booking.cost,
                used_on=min(as_of, booking.preferred_date),
            )
        )
    elif to_state == "cancelled":
        ledger.give_back(
            session,
            actor,
            session.get(EntitlementEntry, booking.entry_id),
            "booking",
            booking.id,
            current_catalogue(session),
        )
    audit.record(
        session,
        actor,
        audit.Change(
            "health.booking_" + to_state, "health_booking", booking_id, {"state": before}, {"state": to_state}
        ),
    )
    return booking


def bookings_for(session: Session, customer_ids: list[int] | None = None, limit: int = 200) -> list[HealthBooking]:
    stmt = select(HealthBooking).order_by(HealthBooking.id.desc()).limit(limit)
    if customer_ids is not None:
        stmt = stmt.where(HealthBooking.customer_id.in_(customer_ids))
    return list(session.scalars(stmt))


def record_health_view(session: Session, actor: audit.Actor, customer_id: int, booking_ids: list[int]) -> None:
    """Every view of health details is written to the audit trail ("pii.health_view")."""
    audit.record(
        session, actor, audit.Change("pii.health_view", "customer", customer_id, None, {"bookings": booking_ids})
    )
