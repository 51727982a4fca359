"""The coupons crm's benefits issue, void and report on (crm.benefits.partner_port's interface).

Registered by partners/__init__.py, so that crm reaches the partners without importing them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from crm import audit
from crm.benefits.services import BenefitError
from partners import services
from partners.models import Coupon, Partner, Redemption

_IDS_PER_QUERY = 900  # well under SQLite's limit of bound variables


class PartnerCoupons:
    """crm.benefits.partner_port.PartnerCoupons, by the partners package's own services."""

    def active_partners(self, session: Session) -> list[Partner]:
        return list(
            session.scalars(select(Partner).where(Partner.active.is_(True)).order_by(Partner.category, Partner.name))
        )

    def issue_coupon(
        self,
        session: Session,
        actor: audit.Actor,
        customer_id: int,
        partner_id: int,
        face_value: Decimal,
        expires_on: dt.date,
        entitlement_id: int,
    ) -> Coupon:
        try:
            return services.issue_coupon(
                session, actor, customer_id, partner_id, face_value, expires_on, entitlement_id=entitlement_id
            )
        except services.PartnerError as exc:
            raise BenefitError(str(exc)) from None

    def void_entitlement_coupons(
        self, session: Session, actor: audit.Actor, customer_ids: list[int], reason: str
    ) -> int:
        voided = 0
        for start in range(0, len(customer_ids), _IDS_PER_QUERY):
            part = customer_ids[start : start + _IDS_PER_QUERY]
            for coupon_id in list(
                session.scalars(
                    select(Coupon.id).where(
                        Coupon.customer_id.in_(part), Coupon.status == "issued", Coupon.entitlement_id.is_not(None)
                    )
                )
            ):
                voided += services.void_coupon(session, actor, coupon_id, reason)
        return voided

    def utilisation_by_partner(self, session: Session) -> list[dict]:
        def n(status):
            return func.sum(case((Coupon.status == status, 1), else_=0))

        rows = session.execute(
            select(
                Partner.id,
                Partner.name,
                Partner.category,
                func.count(Coupon.id),
                n("redeemed"),
                n("expired"),
                n("voided"),
            )
            .join(Coupon, Coupon.partner_id == Partner.id)
            .group_by(Partner.id, Partner.name, Partner.category)
            .order_by(Partner.name)
        )
        return [
            {
                "partner_id": pid,
                "name": name,
                "category": cat,
                "issued": int(issued),
                "redeemed": int(red or 0),
                "expired": int(exp or 0),
                "voided": int(void or 0),
            }
            for pid, name, cat, issued, red, exp, void in rows
        ]

    def customer_coupon_history(self, session: Session, customer_id: int, limit: int) -> list[dict]:
        newest = select(Coupon.id).where(Coupon.customer_id == customer_id).order_by(Coupon.id.desc()).limit(limit)
        rows = session.execute(
            select(
                Coupon.id,
                Partner.name,
                Coupon.value,
                Coupon.status,
                Coupon.issued_at,
                Redemption.redeemed_at,
                Redemption.voided_at,
            )
            .join(Partner, Partner.id == Coupon.partner_id)
            .outerjoin(Redemption, Redemption.coupon_id == Coupon.id)
            .where(Coupon.id.in_(newest.scalar_subquery()))
            .order_by(Coupon.id.desc(), Redemption.id)
        )
        keys = ("coupon_id", "partner", "value", "status", "issued_at", "redeemed_at", "redemption_voided_at")
        return [dict(zip(keys, row, strict=True)) for row in rows]
