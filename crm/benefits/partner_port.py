"""What the benefits need of the partner merchants, and nothing more: crm never imports partners.

The partners package registers its implementation when it is imported (partners/__init__.py).
A benefit operation that needs the partners in a process where they were never imported
raises RuntimeError rather than carry on without them (a coupon left valid after its owner
left the tier, a report without its partners).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Protocol

from sqlalchemy.orm import Session

from crm import audit


class PartnerCoupons(Protocol):
    """Coupons at partner merchants, as the benefits use them. Methods never commit."""

    def active_partners(self, session: Session) -> list:
        """Partners a coupon may be issued for (objects with ``id``, ``name``, ``category``)."""

    def issue_coupon(
        self,
        session: Session,
        actor: audit.Actor,
        customer_id: int,
        partner_id: int,
        face_value: Decimal,
        expires_on: dt.date,
        entitlement_id: int,
    ) -> object:
        """Issue a coupon (an object with ``id``) paid by the ledger entry ``entitlement_id``.

        Raises BenefitError when the partner refuses (unknown or inactive partner, bad value).
        """

    def void_entitlement_coupons(
        self, session: Session, actor: audit.Actor, customer_ids: list[int], reason: str
    ) -> int:
        """Withdraw the unredeemed coupons issued from these customers' entitlements; how many."""

    def utilisation_by_partner(self, session: Session) -> list[dict]:
        """Coupons per partner: dicts of partner_id, name, category, issued, redeemed, expired, voided."""

    def customer_coupon_history(self, session: Session, customer_id: int, limit: int) -> list[dict]:
        """The customer's newest coupons, one dict per coupon and redemption (for the customer's
        timeline): coupon_id, partner, value, status, issued_at, redeemed_at and
        redemption_voided_at (both None for a coupon never redeemed)."""


_registered: PartnerCoupons | None = None


def register(implementation: PartnerCoupons) -> None:
    """Make ``implementation`` the partners the benefits use (the partners package calls this)."""
    global _registered
    _registered = implementation


def partner_coupons() -> PartnerCoupons:
    """The registered partners. Raises RuntimeError when no package registered any."""
    if _registered is None:
        raise RuntimeError("no partner coupons are registered: import the partners package (crm.features does)")
    return _registered
