"""Routing for black-listed customers (黑名单): a risk officer sees their business first.

A black-listed customer's new policy opens an underwriting case (``blacklist_new_business``)
and each of their claims a claims-review case (``blacklist_claim``), both escalated as they
open, so that only a risk officer decides them (crm.review.services.decide): new business
stays declined unless a risk officer approves it, and every claim has its second-level review.
crm.review.routing opens the cases (the same unique constraints keep it idempotent); this
module says which records call for them and escalates the new cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.bulk import any_of
from crm.db import utcnow
from crm.models import Claim, CustomerTier, Policy
from crm.models.lists import BlacklistEntry
from crm.models.review import ReviewCase

POLICY_REASON = "blacklist_new_business"
CLAIM_REASON = "blacklist_claim"
WHY = "on_blacklist"  # why the case opened (crm.review.labels.WHY)
DETAIL = "customer on the black list"  # the escalation's note, in the trail
CHUNK = 5000  # records read at a time


def _black(model):
    return (BlacklistEntry.customer_id == model.customer_id) & (BlacklistEntry.status == "active")


def _rows(session: Session, model, ids: Sequence[int]) -> Iterable:
    ids = list(dict.fromkeys(ids))
    for i in range(0, len(ids), CHUNK):
        yield from session.execute(
            select(model.id, model.customer_id, CustomerTier.risk_score)
            .join(BlacklistEntry, _black(model))
            .outerjoin(CustomerTier, CustomerTier.customer_id == model.customer_id)
            .where(any_of(session, model.id, ids[i : i + CHUNK]))
        ).all()


def is_black(session: Session, customer_id: int) -> bool:
    """The customer is on the black list now (a confirmed entry)."""
    found = select(BlacklistEntry.id).where(
        BlacklistEntry.customer_id == customer_id, BlacklistEntry.status == "active"
    )
    return session.scalar(found.limit(1)) is not None


def blacklisted_policies(session: Session, policy_ids: Sequence[int]) -> list:
    """(id, customer_id, risk_score) of the policies whose customer is on the black list."""
    return list(_rows(session, Policy, policy_ids))


def blacklisted_claims(session: Session, claim_ids: Sequence[int]) -> list:
    """(id, customer_id, risk_score) of the claims whose customer is on the black list."""
    return list(_rows(session, Claim, claim_ids))


def escalate_on_opening(session: Session, case_ids: list[int], actor: audit.Actor) -> list[int]:
    """Send newly opened cases to the risk officers at once (second-level review), audited;
    returns their ids. Unassigned: any risk officer whom four eyes allow decides them."""
    if not case_ids:
        return []
    t = ReviewCase.__table__
    now = utcnow()
    session.connection().execute(
        update(t)
        .where(any_of(session, t.c.id, case_ids), t.c.state == "open")
        .values(state="escalated", escalated_at=now, escalation_reason=DETAIL, updated_at=now)
    )
    audit.record(
        session,
        actor,
        [
            audit.Change(
                "review_case.escalate", "review_case", i, {"state": "open"}, {"state": "escalated", "reason": DETAIL}
            )
            for i in case_ids
        ],
    )
    return case_ids
