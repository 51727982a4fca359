"""Routing: which new or changed policies and claims need a person's review, and why.

Enhanced underwriting: a watchlist customer's new or changed policy; a policy entered more
than ``late_entry_days`` after its start (a late entry). Claims review: a watchlist
customer's claim; a claim above the large-claim amount; a claim flagged as suspected fraud;
a claim whose policy was entered after the loss (cover back-filled after the loss); a VIP's
open claim that calls for no other review goes to the VIP claims channel (``vip_claim``).
Customers who move tier later are swept by crm.review.sweep.

Records of an initial load (the audited migration of historical data) are exempt from the
late-entry and cover-after-loss rules; so are claims on policies that such a load brought in.

Bulk-friendly: the facts are read and the cases written a chunk of ids at a time. The unique
constraints (subject, reason) plus ON CONFLICT DO NOTHING make routing idempotent, so a
re-import or a repeated event never opens a second case; a policy's change
(``watchlist_policy_change``) opens a new one only once the case of the change before is
decided (crm.models.review).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.bulk import any_of, insert_staged
from crm.db import utcnow
from crm.models import Claim, CustomerTier, ImportBatch, Policy
from crm.models.review import OPEN_CLAIM_STATUSES, ReviewCase
from crm.review import blacklist_routing as bl
from crm.review.sla import ReviewSettings, add_working_days, current_settings

CHUNK = 5000  # records read, and their cases opened, at a time


@dataclass(frozen=True)
class Origin:
    """Where the records came from: who entered them, in which batch, and whether that was
    the initial load."""

    actor: audit.Actor
    initial_load: bool = False
    entered_by_id: int | None = None
    import_batch_id: int | None = None


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def priority(fast_track: bool, risk_score) -> int:
    """Higher first: VIP claims are fast-tracked ahead of everything, then the risk score orders."""
    return (100_000 if fast_track else 0) + int(round(float(risk_score or 0) * 100))


def route_policies(
    session: Session, created_ids: Sequence[int], updated_ids: Sequence[int], origin: Origin
) -> list[int]:
    """Open the underwriting cases that new and changed policies call for; returns their ids."""
    settings = current_settings(session)
    created = set(created_ids)
    opened: list[int] = []
    for part in _chunks(list(created_ids) + [i for i in updated_ids if i not in created]):
        rows = session.execute(
            select(
                Policy.id,
                Policy.customer_id,
                Policy.start_date,
                Policy.created_at,
                CustomerTier.tier,
                CustomerTier.risk_score,
            )
            .outerjoin(CustomerTier, CustomerTier.customer_id == Policy.customer_id)
            .where(any_of(session, Policy.id, part))
        ).all()
        cases = []
        for r in rows:
            is_new = r.id in created
            vip = r.tier == "vip"  # a VIP's cases are fast-tracked, as they are on entering VIP
            if r.tier == "watchlist":
                reason = "watchlist_new_business" if is_new else "watchlist_policy_change"
                cases.append(_case("underwriting", reason, r, r.risk_score, False, "on_watchlist", policy_id=r.id))
            entered_on = settings.today(r.created_at)
            late_by = (entered_on - r.start_date).days
            if is_new and not origin.initial_load and late_by > settings.late_entry_days:
                cases.append(
                    _case(
                        "underwriting",
                        "late_entry",
                        r,
                        r.risk_score,
                        vip,
                        "late_entry",
                        {"entered": entered_on.isoformat(), "days": late_by, "start": r.start_date.isoformat()},
                        policy_id=r.id,
                    )
                )
        opened += _open(session, cases, settings, origin)
    return opened + _route_blacklisted("underwriting", bl.blacklisted_policies(session, created_ids), session, origin)


def route_claims(session: Session, claim_ids: Sequence[int], origin: Origin) -> list[int]:
    """Open the claims-review cases that new and changed claims call for; returns their ids."""
    settings = current_settings(session)
    opened: list[int] = []
    for part in _chunks(list(dict.fromkeys(claim_ids))):
        rows = session.execute(
            select(
                Claim.id,
                Claim.customer_id,
                Claim.claimed_amount,
                Claim.fraud_suspected,
                Claim.loss_date,
                Claim.status,
                Policy.created_at.label("policy_entered_at"),
                ImportBatch.initial_load.label("policy_migrated"),
                CustomerTier.tier,
                CustomerTier.risk_score,
            )
            .join(Policy, Policy.id == Claim.policy_id)
            .outerjoin(ImportBatch, ImportBatch.id == Policy.import_batch_id)
            .outerjoin(CustomerTier, CustomerTier.customer_id == Claim.customer_id)
            .where(any_of(session, Claim.id, part))
        ).all()
        cases = []
        for r in rows:
            vip = r.tier == "vip"
            before = len(cases)

            def add(reason: str, why: str, params: dict | None = None, r=r, vip=vip, cases=cases) -> None:
                cases.append(_case("claims", reason, r, r.risk_score, vip, why, params, claim_id=r.id))

            if r.tier == "watchlist":
                add("watchlist_claim", "on_watchlist")
            if r.claimed_amount > settings.large_claim_amount:
                amounts = {"amount": str(r.claimed_amount), "threshold": str(settings.large_claim_amount)}
                add("large_claim", "over_large_claim", amounts)
            if r.fraud_suspected:
                add("fraud_flag", "fraud_flagged")
            entered_on = settings.today(r.policy_entered_at)
            if not origin.initial_load and not r.policy_migrated and entered_on > r.loss_date:
                add(
                    "cover_after_loss",
                    "cover_after_loss",
                    {"entered": entered_on.isoformat(), "loss": r.loss_date.isoformat()},
                )
            if vip and r.status in OPEN_CLAIM_STATUSES and len(cases) == before:
                add("vip_claim", "vip_channel")
        opened += _open(session, cases, settings, origin)
    return opened + _route_blacklisted("claims", bl.blacklisted_claims(session, claim_ids), session, origin)


def _route_blacklisted(queue: str, rows: list, session: Session, origin: Origin) -> list[int]:
    """A black-listed customer's new policies and claims: cases a risk officer decides
    (crm.review.blacklist_routing)."""
    reason, subject = (bl.POLICY_REASON, "policy_id") if queue == "underwriting" else (bl.CLAIM_REASON, "claim_id")
    cases = [
        _case(queue, reason, r, r.risk_score, False, bl.WHY, **{subject: r.id})
        | {"entered_by_id": getattr(r, "entered_by_id", origin.entered_by_id)}  # a sweep's rows name theirs
        for r in rows
    ]
    return bl.escalate_on_opening(session, _open(session, cases, current_settings(session), origin), origin.actor)


def _case(
    queue: str,
    reason: str,
    row,
    risk_score,
    fast_track: bool,
    why: str,
    params: dict | None = None,
    *,
    policy_id: int | None = None,
    claim_id: int | None = None,
) -> dict:
    """A case's row: ``why`` is a code of crm.review.labels.WHY, ``params`` its figures (text,
    numbers: no personal data)."""
    return {
        "queue": queue,
        "reason": reason,
        "detail_code": why,
        "detail_params": params,
        "detail": "",
        "policy_id": policy_id,
        "claim_id": claim_id,
        "customer_id": row.customer_id,
        "fast_track": fast_track,
        "risk_score": risk_score or 0,
        "priority": priority(fast_track, risk_score),
    }


def _open(session: Session, cases: list[dict], settings: ReviewSettings, origin: Origin) -> list[int]:
    """Insert the cases that do not exist yet (the unique constraints decide) and audit each."""
    if not cases:
        return []
    now = utcnow()
    today = settings.today(now)
    due = {}  # (queue, fast track) → (SLA days, due date)
    for case in cases:
        key = (case["queue"], case["fast_track"])
        if key not in due:
            days = settings.sla_days(*key)
            due[key] = (days, add_working_days(today, days, settings.holidays))
    table = ReviewCase.__table__
    created = insert_staged(
        session,
        table,
        {
            **{name: [case[name] for case in cases] for name in ("queue", "reason", "detail_code")},
            "detail_params": [None if c["detail_params"] is None else json.dumps(c["detail_params"]) for c in cases],
            **{name: [case[name] for case in cases] for name in ("policy_id", "claim_id", "customer_id", "fast_track")},
            "risk_score": [str(case["risk_score"]) for case in cases],  # exact; SQLite binds no Decimal
            "priority": [case["priority"] for case in cases],
            "sla_days": [due[case["queue"], case["fast_track"]][0] for case in cases],
            "due_on": [due[case["queue"], case["fast_track"]][1] for case in cases],
            # a sweep (crm.review.sweep) names each subject's own entrant
            "entered_by_id": [case.get("entered_by_id", origin.entered_by_id) for case in cases],
        },
        {
            "detail": "",
            "settings_version": settings.version,
            "state": "open",
            "import_batch_id": origin.import_batch_id,
            "created_at": now,
            "updated_at": now,
        },
        (
            table.c.id,
            table.c.queue,
            table.c.reason,
            table.c.policy_id,
            table.c.claim_id,
            table.c.customer_id,
            table.c.due_on,
            table.c.priority,
        ),
        skip_existing=True,
    )
    if created:
        audit.record(
            session,
            origin.actor,
            [
                audit.Change(
                    "review_case.open",
                    "review_case",
                    r.id,
                    None,
                    {
                        "queue": r.queue,
                        "reason": r.reason,
                        "policy_id": r.policy_id,
                        "claim_id": r.claim_id,
                        "customer_id": r.customer_id,
                        "due_on": r.due_on,
                        "priority": r.priority,
                        "initial_load": origin.initial_load,
                        "settings_version": settings.version,
                    },
                )
                for r in created
            ],
        )
    return [r.id for r in created]
