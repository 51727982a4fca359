"""Grey and black lists (灰名单 / 黑名单).

The grey list is the watchlist the tier rules compute (the customer's tier): nothing is stored
for it. The black list is a person's decision, for example after confirmed fraud: a risk
officer puts a grey-listed customer on it with a reason, and it takes effect only when a second
person (another risk officer, or an admin) confirms; taking someone off it takes two people as
well. While a customer is black-listed their new business and every claim wait for a risk
officer (crm.review.blacklist_routing), from the confirmation on: their open claims and the
policies not yet in force are swept to a risk officer then (crm.review.sweep). Every step is
audited on the customer.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import audit
from crm.db import utcnow
from crm.models import Customer, CustomerTier, User
from crm.models.lists import OPEN_STATES, BlacklistEntry
from crm.review.sweep import sweep_blacklisted

REQUEST_ROLES = ("risk_officer",)  # who puts a customer on, or asks to take them off
CONFIRM_ROLES = ("risk_officer", "admin")  # who confirms (never the one who asked)
LEVELS = ("none", "grey", "black")


class BlacklistError(ValueError):
    """The black-list step was refused; the message says why."""


def _reason(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise BlacklistError(_l("a reason is required"))
    return text[:500]


def _record(session: Session, actor: audit.Actor, action: str, entry: BlacklistEntry, before, after) -> None:
    audit.record(
        session, actor, audit.Change(action, "customer", entry.customer_id, before, {"entry": entry.id, **after})
    )


def open_entry(session: Session, customer_id: int) -> BlacklistEntry | None:
    """The customer's pending or active entry, if any."""
    return session.scalar(
        select(BlacklistEntry).where(BlacklistEntry.customer_id == customer_id, BlacklistEntry.status.in_(OPEN_STATES))
    )


def black_customer_ids(session: Session, customer_ids: Iterable[int]) -> set[int]:
    """Which of these customers are on the black list now (a confirmed entry)."""
    ids = list(customer_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(BlacklistEntry.customer_id).where(
                BlacklistEntry.customer_id.in_(ids), BlacklistEntry.status == "active"
            )
        )
    )


def list_levels(session: Session, customer_ids: Iterable[int]) -> dict[int, str]:
    """``none``, ``grey`` (on the computed watchlist) or ``black`` for each customer id."""
    ids = list(customer_ids)
    black = black_customer_ids(session, ids)
    grey = (
        set(
            session.scalars(
                select(CustomerTier.customer_id).where(
                    CustomerTier.customer_id.in_(ids), CustomerTier.tier == "watchlist"
                )
            )
        )
        if ids
        else set()
    )
    return {cid: "black" if cid in black else "grey" if cid in grey else "none" for cid in ids}


def request_entry(session: Session, actor: audit.Actor, user: User, customer_id: int, reason: str) -> BlacklistEntry:
    """A risk officer asks to black-list a customer on the grey list (the watchlist); it takes
    effect when a second person confirms. Raises BlacklistError."""
    if user.role not in REQUEST_ROLES:
        raise BlacklistError(_l("only risk officers put customers on the black list"))
    reason = _reason(reason)
    if session.get(Customer, customer_id) is None:
        raise BlacklistError(_l("no such customer"))
    tier = session.scalar(select(CustomerTier.tier).where(CustomerTier.customer_id == customer_id))
    if tier != "watchlist":
        raise BlacklistError(_l("only a customer on the grey list (the watchlist) can be put on the black list"))
    if open_entry(session, customer_id) is not None:
        raise BlacklistError(_l("this customer is on the black list already, or a request waits"))
    entry = BlacklistEntry(customer_id=customer_id, status="pending", reason=reason, requested_by_id=user.id)
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError as exc:  # a request made meanwhile (the partial unique index)
        raise BlacklistError(_l("this customer is on the black list already, or a request waits")) from exc
    _record(session, actor, "blacklist.request", entry, None, {"status": "pending", "reason": reason})
    return entry


def _entry(session: Session, entry_id: int) -> BlacklistEntry:
    entry = session.get(BlacklistEntry, entry_id)
    if entry is None:
        raise BlacklistError(_l("no black-list entry with this number"))
    return entry


def _second_person(user: User, requester_id: int | None) -> None:
    if user.role not in CONFIRM_ROLES:
        raise BlacklistError(_l("only risk officers and admins confirm black-list changes"))
    if requester_id == user.id:
        raise BlacklistError(_l("four eyes: someone other than the requester must confirm"))


def _move(session: Session, entry: BlacklistEntry, where: list, values: dict) -> None:
    """A conditional UPDATE: two people cannot both decide the same step."""
    t = BlacklistEntry
    done = session.execute(update(t).where(t.id == entry.id, *where).values(**values)).rowcount
    if not done:
        raise BlacklistError(_l("this entry changed meanwhile; reload the page"))
    session.refresh(entry)


def decide_entry(
    session: Session, actor: audit.Actor, user: User, entry_id: int, confirm: bool, reason: str = ""
) -> BlacklistEntry:
    """A second person confirms (the customer is black-listed from now on) or rejects a pending
    request. Raises BlacklistError."""
    entry = _entry(session, entry_id)
    if entry.status != "pending":
        raise BlacklistError(_l("no request waits on this entry"))
    _second_person(user, entry.requested_by_id)
    if confirm:
        values = {"status": "active", "confirmed_by_id": user.id, "confirmed_at": utcnow()}
    else:
        values = {"status": "rejected", "decision_reason": _reason(reason), "removed_by_id": user.id}
        values["removed_at"] = utcnow()
    _move(session, entry, [BlacklistEntry.status == "pending"], values)
    action = "blacklist.confirm" if confirm else "blacklist.reject"
    _record(session, actor, action, entry, {"status": "pending"}, {"status": entry.status, "reason": reason.strip()})
    if confirm:  # the business already in the books goes to a risk officer too
        sweep_blacklisted(session, [entry.customer_id], actor)
    return entry


def request_removal(session: Session, actor: audit.Actor, user: User, entry_id: int, reason: str) -> BlacklistEntry:
    """A risk officer asks to take a customer off the black list; a second person confirms."""
    if user.role not in REQUEST_ROLES:
        raise BlacklistError(_l("only risk officers ask to take customers off the black list"))
    reason = _reason(reason)
    entry = _entry(session, entry_id)
    if entry.status != "active" or entry.removal_requested_by_id is not None:
        raise BlacklistError(_l("this customer is not on the black list, or a removal waits already"))
    _move(
        session,
        entry,
        [BlacklistEntry.status == "active", BlacklistEntry.removal_requested_by_id.is_(None)],
        {"removal_requested_by_id": user.id, "removal_requested_at": utcnow(), "removal_reason": reason},
    )
    _record(session, actor, "blacklist.removal_request", entry, {"status": "active"}, {"reason": reason})
    return entry


def decide_removal(
    session: Session, actor: audit.Actor, user: User, entry_id: int, confirm: bool, reason: str = ""
) -> BlacklistEntry:
    """A second person confirms the removal (the customer leaves the black list) or rejects it
    (they stay on it). Raises BlacklistError."""
    entry = _entry(session, entry_id)
    if entry.status != "active" or entry.removal_requested_by_id is None:
        raise BlacklistError(_l("no removal waits on this entry"))
    _second_person(user, entry.removal_requested_by_id)
    waiting = [BlacklistEntry.status == "active", BlacklistEntry.removal_requested_by_id.is_not(None)]
    if confirm:
        _move(session, entry, waiting, {"status": "removed", "removed_by_id": user.id, "removed_at": utcnow()})
        _record(session, actor, "blacklist.remove", entry, {"status": "active"}, {"status": "removed"})
    else:
        reason = _reason(reason)
        asked = {"removal_requested_by": entry.removal_requested_by_id, "removal_reason": entry.removal_reason}
        _move(
            session,
            entry,
            waiting,
            {"removal_requested_by_id": None, "removal_requested_at": None, "removal_reason": None},
        )
        _record(session, actor, "blacklist.removal_reject", entry, asked, {"status": "active", "reason": reason})
    return entry


def history(session: Session, customer_id: int, limit: int = 20) -> list[BlacklistEntry]:
    """The customer's entries, newest first."""
    return list(
        session.scalars(
            select(BlacklistEntry)
            .where(BlacklistEntry.customer_id == customer_id)
            .order_by(BlacklistEntry.id.desc())
            .limit(limit)
        )
    )


def pending(session: Session, limit: int = 200) -> list[BlacklistEntry]:
    """Entries waiting for a second person (an entry or a removal), oldest first."""
    return list(
        session.scalars(
            select(BlacklistEntry)
            .where(
                (BlacklistEntry.status == "pending")
                | ((BlacklistEntry.status == "active") & BlacklistEntry.removal_requested_by_id.is_not(None))
            )
            .order_by(BlacklistEntry.id)
            .limit(limit)
        )
    )


def customer_lists(session: Session, user: User, customer_id: int) -> dict:
    """What the customer page shows of the lists: the level, the open entry, the past ones,
    and what this user may do (never confirm their own request)."""
    entry = open_entry(session, customer_id)
    asked_by = None
    if entry is not None:
        asked_by = entry.requested_by_id if entry.status == "pending" else entry.removal_requested_by_id
    past = [e for e in history(session, customer_id) if entry is None or e.id != entry.id]
    ids = {
        i
        for e in ([entry] if entry else []) + past
        for i in (e.requested_by_id, e.confirmed_by_id, e.removal_requested_by_id, e.removed_by_id)
        if i
    }
    people = (
        {u.id: u.full_name or u.email for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    )
    return {
        "level": list_levels(session, [customer_id])[customer_id],
        "people": people,
        "entry": entry,
        "history": past,
        "may_request": user.role in REQUEST_ROLES,
        "may_confirm": user.role in CONFIRM_ROLES and asked_by is not None and asked_by != user.id,
    }
