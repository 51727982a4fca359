"""What a review decision does to its subject, through the audited record services (crm.records).

A claims decision sets the claim's status: a rejection rejects the pending claim at once, its
reserve released to 0 and the reason kept; an approval approves the undecided claim once no
other case on it is still active (a claim with a fraud flag and a large amount waits for both
reviews). A black-listed customer's claim has its second-level review (``blacklist_claim``,
decided by a risk officer): while that is active, a rejection from the claim's other reviews
waits for it as an approval does, and the risk officer's decision settles the claim (a
rejection at once; an approval once no other review is active). ``waiting_for`` says what a
decision that has not taken effect yet waits for (the case page shows it). A claim that is
paid, rejected or withdrawn already stays as it is: the decision is recorded on the case (an
import's claim was settled in the core system).

Cover entered after the loss (出险后补录承保信息) blocks the claim: it is approved only after a
risk officer who did not enter the policy approves the cover, which is what approving the
``cover_after_loss`` case does (a claims reviewer escalates it). Manual entry of an approved or
paid claim checks the same (crm.review.entry).

An underwriting decision sets the policy's outcome: accepted, accepted with conditions (a
premium loading in percent and/or an exclusion, recorded and shown; the premium itself is the
core system's and is not recomputed here), or declined: the policy never takes effect
(crm.records.underwrite_policy). A policy with a live claim is not declined: its claims are
decided first; nor is a policy already in force by one person, since declining cancels it
(随意注销已生效保单): the reviewer escalates the case and a risk officer declines it. As for
claims, an acceptance takes effect once no other case on the policy is still active (a
black-listed customer's new business waits for the risk officer's case, so it is accepted
only if a risk officer approves it); conditions given meanwhile are kept for it. A declined
policy stays declined, and a void policy as it is.

A pending change (a void request waiting for its second person, crm.records.void_pending)
reviewed as ``watchlist_policy_change`` is decided as such: approval confirms the void (the
reviewer is its second person, never the one who asked), rejection withdraws the request.

``check`` raises before the case changes; ``apply`` then only writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit, records
from crm.clock import business_today
from crm.models import Claim, Policy, User
from crm.models.review import ACTIVE_STATES, ReviewCase


class OutcomeRefused(Exception):
    """The decision cannot take effect on its subject; the message says why."""


class CoverNotApproved(OutcomeRefused):
    pass


@dataclass(frozen=True)
class Conditions:
    """An acceptance's conditions (underwriting): a premium loading in percent, an exclusion."""

    loading_pct: Decimal | None = None
    exclusion: str | None = None

    def __bool__(self) -> bool:
        return self.loading_pct is not None or bool(self.exclusion)


SECOND_LEVEL = "blacklist_claim"  # a black-listed customer's claim: a risk officer decides it


def _others(case: ReviewCase) -> tuple:
    """Conditions: the other cases on the same policy or claim that are still open, in review or
    escalated."""
    subject = (
        ReviewCase.policy_id == case.policy_id if case.queue == "underwriting" else ReviewCase.claim_id == case.claim_id
    )
    return subject, ReviewCase.id != case.id, ReviewCase.state.in_(ACTIVE_STATES)


def _others_active(session: Session, case: ReviewCase, *where) -> int:
    return session.scalar(select(func.count()).select_from(ReviewCase).where(*_others(case), *where))


def _second_level_pending(session: Session, case: ReviewCase) -> bool:
    """Another case on the claim is its second-level review (a black-listed customer's) and is
    still active: a rejection waits for the risk officer's decision."""
    return case.reason != SECOND_LEVEL and bool(_others_active(session, case, ReviewCase.reason == SECOND_LEVEL))


def waiting_for(session: Session, case: ReviewCase) -> list[ReviewCase]:
    """The active cases that ``case``'s decision waits for before it changes its subject (empty
    when it is undecided, has taken effect or never will: the subject was settled otherwise)."""
    if case.decision is None:
        return []
    if case.queue == "claims":
        claim = session.get(Claim, case.claim_id)
        if case.decision == "rejected":
            if claim.status not in records.CLAIM_PENDING or case.reason == SECOND_LEVEL:
                return []
            where = (*_others(case), ReviewCase.reason == SECOND_LEVEL)
        elif claim.status in records.CLAIM_UNDECIDED:
            where = _others(case)
        else:
            return []
    else:
        policy = session.get(Policy, case.policy_id)
        if case.decision != "approved" or policy.uw_outcome or policy.voided_at or records.void_pending(policy):
            return []
        where = _others(case)
    return list(session.scalars(select(ReviewCase).where(*where).order_by(ReviewCase.id)))


def _second_level(case: ReviewCase, user: User) -> bool:
    """A risk officer decides an escalated case that someone else escalated (or that routing
    escalated: a black-listed customer's, whom two people put on the black list)."""
    return user.role == "risk_officer" and case.state == "escalated" and case.escalated_by_id != user.id


def _void_change(case: ReviewCase, policy: Policy) -> bool:
    """The case reviews the policy's pending change: a void request waiting for its second person."""
    return case.reason == "watchlist_policy_change" and records.void_pending(policy)


def _check_void_change(policy: Policy, user: User, decision: str, conditions: Conditions | None) -> None:
    if conditions:
        raise OutcomeRefused(_l("a void request is confirmed or turned down, without conditions"))
    if decision == "approved" and policy.void_requested_by == user.email:
        raise OutcomeRefused(_l("you asked to void this policy: a second person must confirm it"))


def check(session: Session, case: ReviewCase, user: User, decision: str, conditions: Conditions | None) -> None:
    """Raise OutcomeRefused (CoverNotApproved) when ``decision`` may not take effect."""
    if case.queue == "underwriting":
        policy = session.get(Policy, case.policy_id)
        if _void_change(case, policy):
            _check_void_change(policy, user, decision, conditions)
            return
        if conditions and decision != "approved":
            raise OutcomeRefused(_l("conditions go with an acceptance"))
        if conditions and conditions.loading_pct is not None and not 0 < conditions.loading_pct <= 500:
            raise OutcomeRefused(_l("a premium loading is between 0 and 500 percent"))
        if decision == "rejected":
            live = session.scalar(
                select(func.count())
                .select_from(Claim)
                .where(
                    Claim.policy_id == case.policy_id,
                    Claim.voided_at.is_(None),
                    Claim.status.not_in(("rejected", "withdrawn")),
                )
            )
            if live:
                raise OutcomeRefused(_l("the policy has claims on its cover: decide them before declining it"))
            if records.in_force(policy, business_today()) and not _second_level(case, user):
                raise OutcomeRefused(
                    _l(
                        "the policy is in force: declining cancels it, which takes a second person"
                        " (escalate the case to a risk officer)"
                    )
                )
        return
    if decision != "approved":
        return
    claim = session.get(Claim, case.claim_id)
    policy = session.get(Policy, claim.policy_id)
    if case.reason == "cover_after_loss":
        if user.role != "risk_officer":
            raise CoverNotApproved(_l("cover entered after the loss is approved by a risk officer: escalate the case"))
        if records.entrant(session, policy) == user.id:
            raise CoverNotApproved(_l("four eyes: you entered the policy whose cover is in question"))
        return
    if (
        claim.status in records.CLAIM_UNDECIDED
        and not _others_active(session, case)
        and records.cover_pending(session, policy, claim.loss_date, claim.import_batch_id)
    ):
        raise CoverNotApproved(_l("the policy was entered after the loss: a risk officer must approve the cover first"))


def apply(
    session: Session,
    case: ReviewCase,
    user: User,
    decision: str,
    reason: str,
    conditions: Conditions | None,
    actor: audit.Actor,
) -> None:
    """Write the decision's effect on the case's policy or claim (checked by ``check``)."""
    if case.queue == "underwriting":
        _apply_underwriting(session, case, decision, reason, conditions, actor)
        return
    claim = session.get(Claim, case.claim_id)
    if decision == "rejected":
        if not _second_level_pending(session, case):
            records.reject_claim(session, actor, claim, reason)
        return
    policy = session.get(Policy, claim.policy_id)
    if case.reason == "cover_after_loss":
        records.approve_cover(session, actor, policy, user.id)
    if not _others_active(session, case) and not records.cover_pending(
        session, policy, claim.loss_date, claim.import_batch_id
    ):
        records.approve_claim(session, actor, claim)


def _apply_underwriting(
    session: Session,
    case: ReviewCase,
    decision: str,
    reason: str,
    conditions: Conditions | None,
    actor: audit.Actor,
) -> None:
    policy = session.get(Policy, case.policy_id)
    if _void_change(case, policy):
        if decision == "approved":
            records.void_record(session, actor, "policy", policy.id, policy.void_reason, business_today())
        else:
            records.withdraw_void_request(session, actor, policy, reason)
        return
    if policy.voided_at is not None or policy.uw_outcome == "declined":
        return  # nothing left to accept or decline
    if decision == "rejected":
        records.underwrite_policy(session, actor, policy, "declined")
        return
    if conditions:
        records.set_conditions(session, actor, policy, conditions.loading_pct, conditions.exclusion)
    if _others_active(session, case):
        return  # accepted when the last review approves
    if policy.premium_loading_pct is not None or policy.exclusion:
        records.underwrite_policy(
            session, actor, policy, "accepted_with_conditions", policy.premium_loading_pct, policy.exclusion
        )
    else:
        records.underwrite_policy(session, actor, policy, "accepted")
