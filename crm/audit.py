"""Writing and verifying the tamper-evident audit trail.

An event is appended with a plain INSERT in the caller's transaction, so a rolled-back
operation leaves no event behind and a committed one always has its event; writers take no
lock of the trail's. One sealer (``seal``: the scheduler's job every second, and `crm audit
seal` / `crm audit verify`) then chains the committed events in order (the Certificate
Transparency pattern): each gets its ``position``, the hash of the event before it and the
SHA-256 of its own canonical content, which includes that hash, so editing, deleting,
reordering or inserting a sealed event breaks the chain at that point. Sealers take the single
``audit_head`` row (``FOR UPDATE`` on PostgreSQL; on SQLite the write transaction's lock), so
one seals at a time and the chain never forks; the unique ``position`` is the last guard.

An event is open to undetected change only until it is sealed (a second or so); ``verify``
reports events left unsealed for more than a minute. The hash is computed here, in Python, and
nowhere else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from crm.db import utcnow
from crm.models.audit import AuditEvent, AuditHead

GENESIS = "0" * 64
_FIELDS = (
    "seq",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "actor_role",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "request_id",
    "prev_hash",
)


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


class _JSONText(str):
    """A value already in canonical JSON (as_text)."""


def canonical_json(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, _JSONText):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def event_hash(row: dict) -> str:
    """SHA-256 of an event's canonical content (every field but the hash itself)."""
    content = {k: row[k] for k in _FIELDS}
    content["occurred_at"] = _time_text(row["occurred_at"])
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def _time_text(value: dt.datetime) -> str:
    # Microsecond precision is kept by both databases; normalise to UTC text (…T…ffffffZ).
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


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
UNSEALED_GRACE = dt.timedelta(minutes=1)  # verify reports events left unsealed for longer
SEAL_BATCH = 5000  # events read and chained at a time


def _event_row(actor: Actor, change: Change, now: dt.datetime) -> dict:
    """An event's columns but its number and its place in the chain."""
    return {
        "occurred_at": now,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "actor_role": actor.role,
        "action": change.action,
        "entity_type": change.entity_type,
        "entity_id": None if change.entity_id is None else str(change.entity_id),
        "before": canonical_json(change.before),
        "after": canonical_json(change.after),
        "request_id": actor.request_id,
    }


def record(session: Session, actor: Actor, changes: Iterable[Change] | Change) -> None:
    """Append events for ``changes`` in the caller's transaction, to be sealed after its commit.

    Never commits: the event lands or vanishes with the operation it describes. A plain
    INSERT, which waits for no other writer.
    """
    events = [changes] if isinstance(changes, Change) else list(changes)
    if events:
        now = utcnow()
        session.execute(insert(_EVENTS), [_event_row(actor, change, now) for change in events])


def as_text(change: Change) -> Change:
    """The same change, its before and after in canonical JSON already (the same event hash):
    for a caller that holds many changes before it records them."""
    text = {
        k: None if v is None else _JSONText(canonical_json(v))
        for k, v in (("before", change.before), ("after", change.after))
    }
    return replace(change, **text)


# --- sealing -------------------------------------------------------------------------


def seal(session: Session) -> int:
    """Chain every committed unsealed event, in the order of their numbers, in the caller's
    transaction; returns how many were sealed. Raises RuntimeError if the database has no head
    row (not made by `crm db upgrade`).

    Takes the head row first, so a second sealer waits for this one's commit and then finds
    these events sealed. An event whose transaction commits after a later-numbered one was
    sealed is not skipped: it is sealed by the next run, after it in the chain.
    """
    head = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()).first()
    if head is None:
        raise RuntimeError("the audit head row is missing: the database was not made by `crm db upgrade`")
    position, prev = head
    content = [_EVENTS.c[f] for f in _FIELDS if f != "prev_hash"]
    sealed = 0
    while True:
        batch = session.execute(
            select(*content).where(_EVENTS.c.position.is_(None)).order_by(_EVENTS.c.seq).limit(SEAL_BATCH)
        ).all()
        if not batch:
            break
        rows = []
        for event in batch:
            position += 1
            row = {**event._asdict(), "prev_hash": prev}
            prev = event_hash(row)
            rows.append({"seq": row["seq"], "position": position, "prev_hash": row["prev_hash"], "hash": prev})
        session.execute(update(AuditEvent), rows)  # by primary key (seq)
        sealed += len(rows)
    if sealed:
        session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=position, hash=prev))
    return sealed


def seal_pending(database) -> int:
    """Seal what is waiting, in a transaction of its own (the scheduler's job, `crm audit seal`).

    Looks first without a lock, so that an idle trail costs a read, not SQLite's write lock."""
    with database.session() as session:
        if session.scalar(select(_EVENTS.c.seq).where(_EVENTS.c.position.is_(None)).limit(1)) is None:
            return 0
    with database.transaction() as session:
        return seal(session)


# --- verifying -----------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    last_seq: int  # the newest sealed event's number (what an anchor names)
    last_hash: str
    problem: str | None = None


def _iter_sealed(session: Session, batch: int = 20000) -> Iterator:
    cols = [_EVENTS.c.position, *(_EVENTS.c[f] for f in _FIELDS), _EVENTS.c.hash]
    last = 0
    while True:
        rows = session.execute(
            select(*cols).where(_EVENTS.c.position > last).order_by(_EVENTS.c.position).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].position


def _chain_problem(session: Session, anchor: dict | None, progress) -> tuple[int, int, str, str | None]:
    """Walk the sealed events in chain order: (checked, newest seq, newest hash, first problem)."""
    prev, last_seq, checked = GENESIS, 0, 0
    anchor_seen = anchor is None
    for row in _iter_sealed(session):
        data = row._asdict()
        if data["position"] != checked + 1:
            return checked, last_seq, prev, f"the event at position {checked + 1} of the chain is missing"
        if data["prev_hash"] != prev:
            return checked, last_seq, prev, f"event {data['seq']} does not follow the event before it (chain broken)"
        if event_hash(data) != data["hash"]:
            return checked, last_seq, prev, f"event {data['seq']} was altered (its content does not match its hash)"
        if anchor is not None and data["seq"] == anchor["seq"]:
            if data["hash"] != anchor["hash"]:
                return checked, last_seq, prev, f"event {data['seq']} does not match the anchor"
            anchor_seen = True
        prev, last_seq, checked = data["hash"], data["seq"], checked + 1
        if progress is not None:
            progress(1)
    head = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
    if head is not None and (head.seq, head.hash) != (checked, prev):
        return (
            checked,
            last_seq,
            prev,
            (f"the chain ends at position {checked} but the head says {head.seq} (events were removed from the end)"),
        )
    if not anchor_seen:
        return checked, last_seq, prev, f"anchored event {anchor['seq']} is missing (the trail was truncated)"
    return checked, last_seq, prev, None


def verify(session: Session, anchor: dict | None = None, progress=None) -> VerifyResult:
    """Re-walk the chain; the first event that does not fit is named in ``problem``, and so are
    events left unsealed for more than UNSEALED_GRACE (the sealer is not running).

    ``anchor`` ({"seq", "hash"} from `crm audit anchor`) catches a truncated tail: the chain
    must still contain that event with that hash.
    """
    checked, last_seq, last_hash, problem = _chain_problem(session, anchor, progress)
    if problem is None:
        late = session.scalar(
            select(func.count())
            .select_from(_EVENTS)
            .where(_EVENTS.c.position.is_(None), _EVENTS.c.occurred_at < utcnow() - UNSEALED_GRACE)
        )
        if late:
            problem = f"{late} events have been left unsealed for more than a minute (is the scheduler running?)"
    return VerifyResult(problem is None, checked, last_seq, last_hash, problem)


def trail_for(
    session: Session, entity_type: str, entity_id, import_batch_id: int | None = None, limit: int = 200
) -> list[AuditEvent]:
    """The newest events about one record, sealed or not, for its page (with the import that
    created it, if any)."""
    where = (AuditEvent.entity_type == entity_type) & (AuditEvent.entity_id == str(entity_id))
    if import_batch_id is not None:
        where |= (
            (AuditEvent.entity_type == "import_batch")
            & (AuditEvent.entity_id == str(import_batch_id))
            & (AuditEvent.action == "import.completed")
        )
    return list(session.scalars(select(AuditEvent).where(where).order_by(AuditEvent.seq.desc()).limit(limit)))
