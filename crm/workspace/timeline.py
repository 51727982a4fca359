"""A customer's timeline: every event of the customer, newest first, from the records that hold
them and from the audit trail, one query per source; and the short list of what comes next.

Each source gives events whose actor is a reference (a user id, an e-mail label, a job); one
query on the users turns the references into names, so the page never shows ids or e-mails.
Events carry no personal data beyond what the customer page shows every staff role: no ID
number or phone, no hospital or package (those stay behind the audited health view).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from crm import audit
from crm.benefits.partner_port import partner_coupons
from crm.models import Customer, Policy, TierOverride, User
from crm.models.audit import AuditEvent
from crm.models.benefits import AssistanceCase, BenefitUse, EntitlementEntry, HealthBooking
from crm.models.review import ACTIVE_STATES, ReviewCase
from crm.models.tiers import CustomerTier, TierHistory
from crm.models.workspace import Visit

PER_PAGE = 20
SOURCE_LIMIT = 500  # the newest rows read from each source
RENEWAL_DAYS = 30
KINDS = {
    "tier": _l("Tier moves"),
    "override": _l("Overrides"),
    "case": _l("Review cases"),
    "coupon": _l("Coupons"),
    "benefit": _l("Benefit uses"),
    "booking": _l("Health bookings"),
    "assistance": _l("Assistance"),
    "visit": _l("Visits"),
    "reveal": _l("Personal data viewed"),
    "import": _l("Imports"),
    "record": _l("Record changes"),
}
# Audit actions the records above already tell (with more detail): not repeated from the trail.
_TOLD_BY_RECORDS = ("tier_override.", "visit.")
_OTHER_ACTORS = {
    "cli": _l("Command line"),
    "job": _l("Scheduled job"),
    "system": _l("System"),
    "partner": _l("Partner merchant"),
}


@dataclass
class Event:
    at: dt.datetime  # UTC: the order of the timeline
    kind: str  # a key of KINDS
    action: str  # what happened, worded by the template
    detail: dict = field(default_factory=dict)
    actor_ref: tuple | None = None  # ("user", id) | ("label", e-mail) | ("other", actor type) | ("run", run id)
    actor: object = ""  # the name, filled in by _name_actors


@dataclass(frozen=True)
class TimelinePage:
    events: list[Event]
    page: int
    pages: int
    total: int
    kind: str | None


def customer_timeline(
    session: Session, customer: Customer, kind: str | None = None, page: int = 0, per_page: int = PER_PAGE
) -> TimelinePage:
    """One page of the customer's events, newest first; ``kind`` (a key of KINDS) keeps one kind.

    Only the sources of that kind are read. An unknown kind is treated as none."""
    kind = kind if kind in KINDS else None
    events: list[Event] = []
    coupons: list[dict] = []
    if kind in (None, "tier"):
        events += _tier_moves(session, customer.id)
    if kind in (None, "override"):
        events += _overrides(session, customer.id)
    if kind in (None, "case"):
        events += _cases(session, customer.id)
    if kind in (None, "coupon"):
        coupons = partner_coupons().customer_coupon_history(session, customer.id, SOURCE_LIMIT)
        events += _coupon_events(coupons)
    if kind in (None, "benefit"):
        events += _benefit_uses(session, customer.id)
    if kind in (None, "booking"):
        events += _bookings(session, customer.id)
    if kind in (None, "assistance"):
        events += _assistance(session, customer.id)
    if kind in (None, "visit"):
        events += _visits(session, customer.id)
    if kind in (None, "reveal", "import", "record", "coupon"):
        events = _with_trail(session, customer, events, coupons, kind)
    events.sort(key=lambda e: e.at, reverse=True)
    pages = max(1, -(-len(events) // per_page))
    page = min(max(page, 0), pages - 1)
    shown = events[page * per_page : (page + 1) * per_page]
    _name_actors(session, shown)
    return TimelinePage(shown, page, pages, len(events), kind)


def _tier_moves(session: Session, customer_id: int) -> list[Event]:
    """Every change of tier: the states left behind (tier_history) and the current one, in order."""
    states = union_all(
        select(TierHistory.tier, TierHistory.reasons, TierHistory.run_id, TierHistory.changed_at.label("at")).where(
            TierHistory.customer_id == customer_id
        ),
        select(CustomerTier.tier, CustomerTier.reasons, CustomerTier.run_id, CustomerTier.updated_at.label("at")).where(
            CustomerTier.customer_id == customer_id
        ),
    ).subquery()
    rows = session.execute(select(states).order_by(states.c.at)).all()
    out, before = [], None
    for tier, reasons, run_id, at in rows:
        if tier != before:
            by_hand = "M_OVERRIDE" in (reasons or "").split(";")
            out.append(
                Event(
                    _utc(at),
                    "tier",
                    "tier.set" if by_hand else "tier.run",
                    {
                        "old": before,
                        "new": tier,
                        "reasons": [r for r in (reasons or "").split(";") if r],
                        "run": run_id,
                    },
                    ("other", "system") if by_hand else ("run", run_id),
                )
            )
        before = tier
    return out[-SOURCE_LIMIT:]


def _overrides(session: Session, customer_id: int) -> list[Event]:
    out = []
    for o in session.scalars(
        select(TierOverride)
        .where(TierOverride.customer_id == customer_id)
        .order_by(TierOverride.id.desc())
        .limit(SOURCE_LIMIT)
    ):
        detail = {"tier": o.tier, "reason": o.reason, "expires_on": o.expires_on}
        out.append(Event(_utc(o.requested_at), "override", "override.requested", detail, ("user", o.requested_by_id)))
        if o.decided_at is not None:
            action = {"active": "override.approved", "rejected": "override.rejected"}.get(o.status, "override.revoked")
            detail = {"tier": o.tier, "reason": o.decision_reason or ""}
            out.append(Event(_utc(o.decided_at), "override", action, detail, ("user", o.decided_by_id)))
    return out


def _cases(session: Session, customer_id: int) -> list[Event]:
    out = []
    for c in session.scalars(
        select(ReviewCase)
        .where(ReviewCase.customer_id == customer_id)
        .order_by(ReviewCase.id.desc())
        .limit(SOURCE_LIMIT)
    ):
        detail = {
            "case": c.id,
            "queue": c.queue,
            "reason": c.reason,
            "state": c.state,
            "detail_code": c.detail_code,
            "detail_params": c.detail_params,
            "detail": c.detail,
        }
        opener = ("user", c.entered_by_id) if c.entered_by_id else ("other", "system")
        out.append(Event(_utc(c.created_at), "case", "case.opened", detail, opener))
        if c.escalated_at:
            # routing's own escalation (a black-listed customer's case) has no person's note
            escalated = {**detail, "note": c.escalation_reason if c.escalated_by_id else ""}
            out.append(Event(_utc(c.escalated_at), "case", "case.escalated", escalated, ("user", c.escalated_by_id)))
        if c.decided_at:
            decided = {**detail, "decision": c.decision, "note": c.decision_reason or ""}
            out.append(Event(_utc(c.decided_at), "case", "case.decided", decided, ("user", c.decided_by_id)))
        if c.closed_at:
            out.append(Event(_utc(c.closed_at), "case", "case.closed", detail, ("other", "system")))
    return out


def _coupon_events(rows: list[dict]) -> list[Event]:
    out, seen = [], set()
    for r in rows:
        detail = {"coupon": r["coupon_id"], "partner": r["partner"], "value": r["value"], "status": r["status"]}
        if r["coupon_id"] not in seen:
            seen.add(r["coupon_id"])
            out.append(Event(_utc(r["issued_at"]), "coupon", "coupon.issued", detail, ("other", "system")))
        if r["redeemed_at"] is not None:
            redeemed = {**detail, "voided": r["redemption_voided_at"] is not None}
            out.append(Event(_utc(r["redeemed_at"]), "coupon", "coupon.redeemed", redeemed, ("other", "partner")))
    return out


def _benefit_uses(session: Session, customer_id: int) -> list[Event]:
    rows = session.scalars(
        select(BenefitUse)
        .where(BenefitUse.customer_id == customer_id)
        .order_by(BenefitUse.id.desc())
        .limit(SOURCE_LIMIT)
    )
    return [
        Event(_utc(u.created_at), "benefit", "benefit.used", {"kind": u.kind, "cost": u.cost, "used_on": u.used_on})
        for u in rows
    ]


def _bookings(session: Session, customer_id: int) -> list[Event]:
    rows = session.scalars(
        select(HealthBooking)
        .where(HealthBooking.customer_id == customer_id)
        .order_by(HealthBooking.id.desc())
        .limit(SOURCE_LIMIT)
    )
    return [
        Event(
            _utc(b.created_at),
            "booking",
            "booking.made",
            {"kind": b.kind, "state": b.state, "date": b.preferred_date},  # no hospital or package
            ("user", b.created_by_id),
        )
        for b in rows
    ]


def _assistance(session: Session, customer_id: int) -> list[Event]:
    out = []
    for a in session.scalars(
        select(AssistanceCase)
        .where(AssistanceCase.customer_id == customer_id)
        .order_by(AssistanceCase.id.desc())
        .limit(SOURCE_LIMIT)
    ):
        detail = {"category": a.category, "country": a.country, "status": a.status}
        opener = ("user", a.opened_by_id) if a.opened_by_id else ("other", "system")
        out.append(Event(_utc(a.opened_at), "assistance", "assistance.opened", detail, opener))
        if a.closed_at:
            out.append(Event(_utc(a.closed_at), "assistance", "assistance.closed", detail, ("other", "system")))
    return out


def _visits(session: Session, customer_id: int) -> list[Event]:
    out = []
    for v in session.scalars(
        select(Visit).where(Visit.customer_id == customer_id).order_by(Visit.id.desc()).limit(SOURCE_LIMIT)
    ):
        detail = {"kind": v.kind, "date": v.visit_date, "next_step": v.next_step, "due": v.next_step_due}
        out.append(Event(_utc(v.created_at), "visit", "visit.logged", detail, ("user", v.manager_id)))
        if v.follow_up_done_at:
            done = {"next_step": v.next_step}
            out.append(Event(_utc(v.follow_up_done_at), "visit", "visit.follow_up_done", done, ("user", v.manager_id)))
    return out


def _audit_kind(action: str) -> str:
    if action.startswith("pii."):
        return "reveal"
    if action.startswith("import.") or action == "customer.import_update":
        return "import"
    return "record"


def _with_trail(
    session: Session, customer: Customer, events: list[Event], coupons: list[dict], kind: str | None
) -> list[Event]:
    """Add the customer's audit events that no record tells (reveals, imports, reassignments,
    voids), and the names of who issued the coupons (the coupon.issue events)."""
    trail = audit.trail_for(session, "customer", customer.id, customer.import_batch_id, limit=SOURCE_LIMIT)
    issuers = _coupon_issuers(session, [c["coupon_id"] for c in coupons])
    for e in events:
        if e.action == "coupon.issued" and e.detail["coupon"] in issuers:
            e.actor_ref = issuers[e.detail["coupon"]]
    for row in trail:
        event_kind = _audit_kind(row.action)
        if row.action.startswith(_TOLD_BY_RECORDS) or kind not in (None, event_kind):
            continue
        after = json.loads(row.after) if row.after else {}
        detail = {"fields": after.get("fields", []), "rows": after.get("rows"), "kind": after.get("kind")}
        events.append(Event(_utc(row.occurred_at), event_kind, row.action, detail, _audit_actor(row)))
    return events


def _coupon_issuers(session: Session, coupon_ids: list[int]) -> dict[int, tuple]:
    if not coupon_ids:
        return {}
    rows = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "coupon",
            AuditEvent.entity_id.in_([str(i) for i in coupon_ids]),
            AuditEvent.action == "coupon.issue",
        )
    )
    return {int(row.entity_id): _audit_actor(row) for row in rows}


def _audit_actor(row: AuditEvent) -> tuple:
    if row.actor_type == "user" and row.actor_id and row.actor_id.isdigit():
        return ("user", int(row.actor_id))
    return ("other", row.actor_type)


def _name_actors(session: Session, events: list[Event]) -> None:
    """Each event's actor as a name: one query for the users of the page."""
    ids = {e.actor_ref[1] for e in events if e.actor_ref and e.actor_ref[0] == "user" and e.actor_ref[1]}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    for e in events:
        ref = e.actor_ref
        if ref is None:
            e.actor = ""
        elif ref[0] == "user":
            user = users.get(ref[1])
            e.actor = (user.full_name or _role_name(user.role)) if user else _l("a former user")
        elif ref[0] == "run":
            e.actor = _l("Tier run %(id)s", id=ref[1]) if ref[1] else _l("Tier recalculation")
        else:
            e.actor = _OTHER_ACTORS.get(ref[1], _OTHER_ACTORS["system"])


def _role_name(role: str):
    from crm.ui import LABELS

    return LABELS["role"].get(role, role)


def _utc(value: dt.datetime | str) -> dt.datetime:
    """Times from a UNION come back as text on SQLite: every event's time as an aware UTC datetime."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# --- what next --------------------------------------------------------------------------


def what_next(session: Session, customer: Customer, today: dt.date) -> list[dict]:
    """The few things to do about the customer, most pressing first: the next follow-up due,
    the open review cases, a pending override, benefits left unused this period, renewals."""
    out = []
    follow_up = session.scalar(
        select(Visit)
        .where(Visit.customer_id == customer.id, Visit.next_step_due.is_not(None), Visit.follow_up_done_at.is_(None))
        .order_by(Visit.next_step_due, Visit.id)
        .limit(1)
    )
    if follow_up is not None:
        out.append(
            {
                "what": "follow_up",
                "due": follow_up.next_step_due,
                "text": follow_up.next_step,
                "overdue": follow_up.next_step_due < today,
            }
        )
    cases = session.execute(
        select(func.count(), func.min(ReviewCase.due_on)).where(
            ReviewCase.customer_id == customer.id, ReviewCase.state.in_(ACTIVE_STATES)
        )
    ).one()
    if cases[0]:
        out.append({"what": "cases", "n": cases[0], "due": cases[1], "overdue": cases[1] < today})
    pending = session.scalar(
        select(func.count()).where(TierOverride.customer_id == customer.id, TierOverride.status == "pending")
    )
    if pending:
        out.append({"what": "override", "n": pending})
    left = func.sum(EntitlementEntry.quantity)
    for benefit_kind, end, n in session.execute(
        select(EntitlementEntry.kind, EntitlementEntry.period_end, left)
        .where(
            EntitlementEntry.customer_id == customer.id,
            EntitlementEntry.period_start <= today,
            EntitlementEntry.period_end > today,
        )
        .group_by(EntitlementEntry.kind, EntitlementEntry.benefit_code, EntitlementEntry.period_end)
        .having(left > 0)
        .order_by(EntitlementEntry.period_end)
    ):
        out.append({"what": "benefit", "kind": benefit_kind, "n": int(n), "last_day": end - dt.timedelta(days=1)})
    renewal = session.scalar(
        select(func.min(Policy.end_date)).where(
            Policy.customer_id == customer.id,
            Policy.status == "in_force",
            Policy.voided_at.is_(None),
            Policy.end_date >= today,
            Policy.end_date <= today + dt.timedelta(days=RENEWAL_DAYS),
        )
    )
    if renewal is not None:
        out.append({"what": "renewal", "due": renewal})
    return out
