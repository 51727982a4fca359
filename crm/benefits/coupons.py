"""Partner coupons issued from a customer's coupon entitlement (the partners package issues them,
through crm.benefits.partner_port)."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from crm import audit
from crm.benefits import ceiling, ledger, partner_port
from crm.benefits.catalogue import current_catalogue
from crm.benefits.services import BenefitError
from crm.models import Customer
from crm.models.benefits import BenefitUse


def active_partners(session: Session) -> list:
    """Partners a coupon may be issued for (``id``, ``name``, ``category``)."""
    return partner_port.partner_coupons().active_partners(session)


def issue_from_entitlement(
    session: Session, actor: audit.Actor, customer: Customer, partner_id: int, expires_on: dt.date, as_of: dt.date
):
    """Take one unit of the customer's coupon benefit and issue a coupon of its face value.

    The coupon carries the ledger entry's id (``entitlement_id``); its cost is the benefit's
    unit cost. Raises BenefitError (no benefit or none left, an expiry before today, or the
    partners package refusing: unknown or inactive partner), or OverCeiling.
    """
    if expires_on < as_of:
        raise BenefitError(_l("the expiry date is in the past"))
    benefit = current_catalogue(session).of_kind(ledger.current_tier(session, customer.id) or "", "partner_coupon")
    if benefit is None:
        raise BenefitError(_l("the customer's tier has no coupon benefit"))
    ceiling.guard(session, actor, customer.id, benefit.code, benefit.unit_cost, as_of, current_catalogue(session))
    entry = ledger.take_unit(session, actor, customer.id, benefit, as_of, "coupon")
    coupon = partner_port.partner_coupons().issue_coupon(
        session, actor, customer.id, partner_id, benefit.face_value, expires_on, entitlement_id=entry.id
    )
    session.add(
        BenefitUse(
            customer_id=customer.id,
            benefit_code=benefit.code,
            kind=benefit.kind,
            source="coupon",
            source_id=coupon.id,
            cost=benefit.unit_cost,
            used_on=as_of,
        )
    )
    session.flush()
    return coupon
