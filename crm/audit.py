"""Writing and verifying the tamper-evident audit trail.

Each event stores the hash of its predecessor and the SHA-256 of its own canonical content
(which includes that predecessor hash), so editing, deleting, reordering or inserting an
event breaks the chain at that point. Writers take the single ``audit_head`` row (``FOR
UPDATE`` on PostgreSQL; SQLite write transactions are already serialised by ``BEGIN
IMMEDIATE``), so two writers can never extend the chain from the same event; the primary key
on ``seq`` is the last guard. Events are written in the caller's transaction, so a
rolled-back operation leaves no event behind and a committed one always has its event.

Every writer queues on the head from its ``record`` until its commit, so busy paths record
their event last. The hash is computed here, in Python, and nowhere else.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from crm.db import utcnow
from crm.models.audit import AuditEvent, AuditHead

GENESIS = "0" * 64
_FIELDS = ("seq", "occurred_at", "actor_type", "actor_id", "actor_label", "actor_role", "action",
           "entity_type", "entity_id", "before", "after", "request_id", "prev_hash")


@dataclass(frozen=True)
class Actor:
    """Who did something: a user (with role), the command line, a job or a partner."""

    type: str
    label: str
    id: str | None = None
    role: str | None = None
    request_id: str | None = None

    @classmethod
    def for_user(cls, user, request_id: str | None = None) -> Actor:
        return cls("user", user.email, str(user.id), user.role, request_id)

    @classmethod
    def cli(cls, what: str = "crm") -> Actor:
        import getpass

        return cls("cli", f"{getpass.getuser()}@{what}")

    @classmethod
    def job(cls, name: str) -> Actor:
        return cls("job", name)


def _json_default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} in the audit trail")


def canonical_json(value) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def event_hash(row: dict) -> str:
    """SHA-256 of an event's canonical content (every field but the hash itself)."""
    content = {k: row[k] for k in _FIELDS}
    content["occurred_at"] = _time_text(row["occurred_at"])
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def _time_text(value: dt.datetime) -> str:
    # Microsecond precision is kept by both databases; normalise to UTC text (…T…ffffffZ).
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True)
class Change:
    """One thing to record: an action on an entity, with its state before and after."""

    action: str
    entity_type: str
    entity_id: str | int | None = None
    before: dict | None = None
    after: dict | None = None


# --- writing -------------------------------------------------------------------------

_EVENTS, _HEAD = AuditEvent.__table__, AuditHead.__table__


def _event_row(actor: Actor, change: Change, now: dt.datetime) -> dict:
    """An event's columns but its place in the chain (seq, prev_hash, hash)."""
    return {
        "occurred_at": now, "actor_type": actor.type, "actor_id": actor.id, "actor_label": actor.label,
        "actor_role": actor.role, "action": change.action, "entity_type": change.entity_type,
        "entity_id": None if change.entity_id is None else str(change.entity_id),
        "before": canonical_json(change.before), "after": canonical_json(change.after),
        "request_id": actor.request_id,
    }


def record(session: Session, actor: Actor, changes: Iterable[Change] | Change) -> None:
    """Append events for ``changes`` in the caller's transaction.

    Never commits: the event lands or vanishes with the operation it describes. Takes the
    audit head (``FOR UPDATE`` on PostgreSQL) until the caller's commit, so call it last in a
    busy transaction. Raises RuntimeError if the database has no head row (not made by
    `crm db upgrade`).
    """
    events = [changes] if isinstance(changes, Change) else list(changes)
    if not events:
        return
    head = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()).first()
    if head is None:
        raise RuntimeError("the audit head row is missing: the database was not made by `crm db upgrade`")
    (seq, prev), now, rows = head, utcnow(), []
    for change in events:
        seq += 1
        row = {"seq": seq, **_event_row(actor, change, now), "prev_hash": prev}
        row["hash"] = prev = event_hash(row)
        rows.append(row)
    session.execute(insert(_EVENTS), rows)
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=prev))


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    last_seq: int
    last_hash: str
    problem: str | None = None


def _iter_events(session: Session, batch: int = 20000) -> Iterator:
    cols = [getattr(AuditEvent, f) for f in _FIELDS] + [AuditEvent.hash]
    last = 0
    while True:
        rows = session.execute(
            select(*cols).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session, anchor: dict | None = None, progress=None) -> VerifyResult:
    """Re-walk the chain; the first event that does not fit is named in ``problem``.

    ``anchor`` ({"seq", "hash"} from `crm audit anchor`) catches a truncated tail: the chain
    must still contain that event with that hash.
    """
    prev, expected_seq, checked = GENESIS, 1, 0
    anchor_seen = anchor is None
    for row in _iter_events(session):
        data = row._asdict()
        if data["seq"] != expected_seq:
            return VerifyResult(False, checked, expected_seq - 1, prev,
                                f"event {expected_seq} is missing (next is {data['seq']})")
        if data["prev_hash"] != prev:
            return VerifyResult(False, checked, data["seq"], prev,
                                f"event {data['seq']} does not follow event {data['seq'] - 1} (chain broken)")
        if event_hash(data) != data["hash"]:
            return VerifyResult(False, checked, data["seq"], prev,
                                f"event {data['seq']} was altered (its content does not match its hash)")
        if anchor is not None and data["seq"] == anchor["seq"]:
            if data["hash"] != anchor["hash"]:
                return VerifyResult(False, checked, data["seq"], prev,
                                    f"event {data['seq']} does not match the anchor")
            anchor_seen = True
        prev, expected_seq, checked = data["hash"], expected_seq + 1, checked + 1
        if progress is not None:
            progress(1)
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if head is not None and (head.seq, head.hash) != (expected_seq - 1, prev):
        return VerifyResult(False, checked, expected_seq - 1, prev,
                            f"the trail ends at event {expected_seq - 1} but the head says {head.seq}"
                            " (events were removed from the end)")
    if not anchor_seen:
        return VerifyResult(False, checked, expected_seq - 1, prev,
                            f"anchored event {anchor['seq']} is missing (the trail was truncated)")
    return VerifyResult(True, checked, expected_seq - 1, prev)


def trail_for(session: Session, entity_type: str, entity_id, import_batch_id: int | None = None,
              limit: int = 200) -> list[AuditEvent]:
    """The newest events about one record, for its page (with the import that created it, if any)."""
    where = (AuditEvent.entity_type == entity_type) & (AuditEvent.entity_id == str(entity_id))
    if import_batch_id is not None:
        where |= ((AuditEvent.entity_type == "import_batch") & (AuditEvent.entity_id == str(import_batch_id))
                  & (AuditEvent.action == "import.completed"))
    return list(session.scalars(select(AuditEvent).where(where).order_by(AuditEvent.seq.desc()).limit(limit)))
