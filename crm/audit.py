"""Writing and verifying the tamper-evident audit trail.

Each event stores the hash of its predecessor and the SHA-256 of its own canonical content
(which includes that predecessor hash), so editing, deleting, reordering or inserting an
event breaks the chain at that point. Writers take the single ``audit_head`` row (``FOR
UPDATE`` on PostgreSQL; SQLite write transactions are already serialised by ``BEGIN
IMMEDIATE``), so two writers can never extend the chain from the same event; the primary key
on ``seq`` is the last guard. Events are written in the caller's transaction, so a
rolled-back operation leaves no event behind and a committed one always has its event.

Every writer queues on the head from its ``record`` until its commit, so busy paths record
their event last, or hold it for ``commit``, which appends it and commits at once. On
PostgreSQL one event is one statement: lock the head, insert the event with its hash computed
by the server from the same canonical text, move the head.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy import Connection, event, select
from sqlalchemy.exc import DBAPIError
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
    """A value already in canonical JSON: held events keep their payloads as text, which takes
    a fraction of the memory of the objects (a run holding a million customers' changes)."""


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


# --- statements straight on the driver ----------------------------------------------------

_SQLITE_FORMS = {  # what SQLAlchemy stores on SQLite (as crm.db.bulk_insert does)
    dt.datetime: lambda v: v.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds"),
    dt.date: dt.date.isoformat,
    Decimal: float,
}


@functools.lru_cache(maxsize=64)
def _pyformat(sql: str) -> str:
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql.replace("%", "%%"))


def _sqlite_params(params: dict) -> dict:
    return {k: (_SQLITE_FORMS[type(v)](v) if type(v) in _SQLITE_FORMS else v) for k, v in params.items()}


def execute_on_driver(conn: Connection, sql: str, params=None, *, many: bool = False):
    """Run ``sql`` (``:name`` parameters) on the DBAPI cursor, in the transaction of SQLAlchemy's
    ``conn`` if it has one; returns the cursor (rows are plain tuples).

    For the busiest write paths (the audit trail's, the redemptions'), where SQLAlchemy's
    per-statement machinery took longer than the statements, on SQLite inside the write lock.
    Values are stored as SQLAlchemy stores them; a driver error is raised as SQLAlchemy's (so
    crm/errors.py still answers an unreachable database with 503).
    """
    if conn.dialect.name == "postgresql":
        sql = _pyformat(sql)
    elif params is not None:
        params = [_sqlite_params(p) for p in params] if many else _sqlite_params(params)
    cursor = conn.connection.driver_connection.cursor()
    try:
        (cursor.executemany if many else cursor.execute)(sql, params if params is not None else {})
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error) from exc
    return cursor


# --- writing -------------------------------------------------------------------------

_READ_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
_INSERT_EVENT = (
    f"INSERT INTO audit_events ({', '.join(_FIELDS)}, hash) "  # nosec B608 - names are constants
    f"VALUES ({', '.join(':' + f for f in _FIELDS)}, :hash)"
)
_MOVE_HEAD = "UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"
# One event on PostgreSQL: the server fills in seq, prev_hash and hash from the locked head, the
# hash over event_hash()'s canonical text assembled around the head's values (see
# _append_one_pg_params), so verify() recomputes it exactly. Without a head row the seq is
# NULL and the INSERT fails: an operation can never commit without its event.
_APPEND_ONE_PG = """
WITH head AS (SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE),
nxt AS (SELECT seq + 1 AS seq, hash AS prev_hash,
               encode(sha256(:text_before_prev || convert_to(hash, 'UTF8') || :text_before_seq
                             || convert_to((seq + 1)::text || '}', 'UTF8')), 'hex') AS hash
        FROM head),
event AS (INSERT INTO audit_events (seq, occurred_at, actor_type, actor_id, actor_label, actor_role, action,
                                    entity_type, entity_id, before, after, request_id, prev_hash, hash)
          VALUES ((SELECT seq FROM nxt), :occurred_at, :actor_type, :actor_id, :actor_label, :actor_role,
                  :action, :entity_type, :entity_id, :before, :after, :request_id,
                  (SELECT prev_hash FROM nxt), (SELECT hash FROM nxt)))
UPDATE audit_head SET seq = nxt.seq, hash = nxt.hash FROM nxt WHERE audit_head.id = 1"""
_HELD = "crm.audit.held"  # session.info key: the _Tail waiting for commit()


def _event_row(actor: Actor, change: Change, now: dt.datetime) -> dict:
    """An event's columns but its place in the chain (seq, prev_hash, hash)."""
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


def _append_one_pg_params(actor: Actor, change: Change) -> dict:
    """_APPEND_ONE_PG's values: the row, and event_hash()'s canonical text cut around the values of
    prev_hash and seq ("seq" sorts last; a JSON string never holds the bare quotes of '"prev_hash":"')."""
    row = _event_row(actor, change, utcnow())
    whole = canonical_json({**row, "occurred_at": _time_text(row["occurred_at"]), "prev_hash": "", "seq": 0})
    cut = whole.index('"prev_hash":""') + len('"prev_hash":"')
    return {**row, "text_before_prev": whole[:cut].encode(), "text_before_seq": whole[cut : -len("0}")].encode()}


def _append(conn: Connection, events: list[tuple[Actor, Change]]) -> None:
    if conn.dialect.name == "postgresql" and len(events) == 1:
        execute_on_driver(conn, _APPEND_ONE_PG, _append_one_pg_params(*events[0]))
        return
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""  # SQLite: BEGIN IMMEDIATE did
    head = execute_on_driver(conn, _READ_HEAD + lock).fetchone()
    if head is None:
        raise RuntimeError("the audit head row is missing: the database was not made by `crm db upgrade`")
    (seq, prev), now, rows = head, utcnow(), []
    for actor, change in events:
        seq += 1
        row = {"seq": seq, **_event_row(actor, change, now), "prev_hash": prev}
        row["hash"] = prev = event_hash(row)
        rows.append(row)
    execute_on_driver(conn, _INSERT_EVENT, rows, many=True)
    execute_on_driver(conn, _MOVE_HEAD, {"seq": seq, "hash": prev})


def record(session: Session, actor: Actor, changes: Iterable[Change] | Change) -> None:
    """Append events for ``changes`` in the caller's transaction (or hold them for commit()).

    Never commits: the event lands or vanishes with the operation it describes. Holds the
    audit head until the caller's commit, so call it last in a busy transaction.
    """
    events = [(actor, change) for change in ((changes,) if isinstance(changes, Change) else changes)]
    tail = session.info.get(_HELD)
    if tail is not None:
        tail.events.extend((actor, as_text(change)) for actor, change in events)
    elif events:
        _append(session.connection(), events)


def as_text(change: Change) -> Change:
    """The same change, its before and after in canonical JSON already (the same event hash):
    for a caller that makes many events' text in a thread of its own."""
    text = {
        k: None if v is None else _JSONText(canonical_json(v))
        for k, v in (("before", change.before), ("after", change.after))
    }
    return replace(change, **text)


@dataclass
class _Tail:
    """What a holding session sends at its commit: the writes nobody waits on, then its events."""

    statements: list = field(default_factory=list)
    events: list = field(default_factory=list)

    def send(self, conn: Connection) -> None:
        for sql, params in self.statements:
            execute_on_driver(conn, sql, params)
        if self.events:
            _append(conn, self.events)


class HeldTransaction:
    """A write transaction on a plain Connection, begun by the first connection(), that holds its
    audit events and deferred writes for commit(): for the busiest write path (the partner API's
    redemptions), where an ORM Session and its bookkeeping only cost time. Stands in for a
    Session where record(), defer(), commit() and the partner services take one
    (``connection()``, ``info``). On SQLite it begins with BEGIN IMMEDIATE (as crm.db.writer's
    sessions do): the write lock is taken by the first connection() and held until the end."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self.info: dict = {_HELD: _Tail()}
        self._transaction = None

    def connection(self) -> Connection:
        if self._transaction is None:
            if self._conn.dialect.name == "sqlite":
                self._conn.execution_options(sqlite_begin="IMMEDIATE")
            self._transaction = self._conn.begin()
        return self._conn

    def flush(self) -> None:
        """Nothing to flush: there is no ORM state."""

    def commit(self) -> None:
        """Send what is held and commit (as Session.commit() would); after commit() on the driver,
        this only settles SQLAlchemy's state."""
        _send_held(self)
        if self._transaction is not None:
            self._transaction.commit()

    def rollback(self) -> None:
        self.info.pop(_HELD, None)
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()


def hold_for_commit(session: Session) -> None:
    """Hold the events ``session`` records (and the statements it defers) from now on for
    commit(); any session.commit() sends them too, so none is ever lost. For the views of
    busy write paths, which own their commit."""
    session.info.setdefault(_HELD, _Tail())


def defer(session: Session, sql: str, params: dict) -> None:
    """Run ``sql``, a write whose result nobody needs, at the commit of a holding session (before
    its events); at once otherwise. A plain INSERT or UPDATE without WITH or RETURNING (on
    PostgreSQL, commit() sends it as a CTE of the event's statement) that depends on no other
    deferred write."""
    tail = session.info.get(_HELD)
    if tail is None:
        execute_on_driver(session.connection(), sql, params)
    else:
        tail.statements.append((sql, params))


_PARAM = re.compile(r"(?<![:\w]):(\w+)")


@functools.lru_cache(maxsize=32)
def _statements_and_event_pg(statements: tuple[str, ...]) -> str:
    """``statements`` (data-modifying, without WITH or RETURNING) as the CTEs of _APPEND_ONE_PG,
    their parameters renamed ``:s<i>_<name>``: one statement for the server to plan and run."""
    ctes = []
    for i, sql in enumerate(statements):
        renamed = _PARAM.sub(lambda m, i=i: f":s{i}_{m.group(1)}", sql)
        ctes.append(f"s{i} AS ({renamed})")
    return "WITH " + ", ".join([*ctes, _APPEND_ONE_PG.strip().removeprefix("WITH ")])


def _with_event_pg(statements: list, event: tuple[Actor, Change]) -> tuple[str, dict]:
    """The held statements and one event, in one statement (PostgreSQL runs every data-modifying
    CTE, each once, in the statement's one snapshot: they must not depend on each other)."""
    params = _append_one_pg_params(*event)
    for i, (_sql, values) in enumerate(statements):
        params.update({f"s{i}_{name}": value for name, value in values.items()})
    return _statements_and_event_pg(tuple(sql for sql, _values in statements)), params


def _send_held(session: Session) -> None:
    tail = session.info.pop(_HELD, None)
    if tail is not None:
        tail.send(session.connection())


event.listen(Session, "before_commit", _send_held)
event.listen(Session, "after_rollback", lambda session: session.info.pop(_HELD, None))


def commit(session: Session) -> None:
    """Send the held statements and events and commit at once, so the audit head is held for
    the server's time alone: on PostgreSQL they and the COMMIT travel together (a psycopg
    pipeline); elsewhere the COMMIT follows the last event on the driver. SQLAlchemy's
    bookkeeping runs after the head (on SQLite, the write lock) is released."""
    session.flush()  # any ORM changes belong to this transaction, not to one after it
    tail = session.info.pop(_HELD, None) or _Tail()
    conn = session.connection()
    driver = conn.connection.driver_connection
    try:
        if conn.dialect.name == "postgresql" and len(tail.events) == 1:
            sql, params = _with_event_pg(tail.statements, tail.events[0])
            with driver.pipeline():
                execute_on_driver(conn, sql, params)
                driver.commit()
        else:
            tail.send(conn)
            driver.commit()
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance("COMMIT", None, exc, conn.dialect.loaded_dbapi.Error) from exc
    session.commit()  # the driver's transaction is over: this only settles SQLAlchemy's state


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
        rows = session.execute(select(*cols).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)).all()
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
            return VerifyResult(
                False, checked, expected_seq - 1, prev, f"event {expected_seq} is missing (next is {data['seq']})"
            )
        if data["prev_hash"] != prev:
            return VerifyResult(
                False,
                checked,
                data["seq"],
                prev,
                f"event {data['seq']} does not follow event {data['seq'] - 1} (chain broken)",
            )
        if event_hash(data) != data["hash"]:
            return VerifyResult(
                False,
                checked,
                data["seq"],
                prev,
                f"event {data['seq']} was altered (its content does not match its hash)",
            )
        if anchor is not None and data["seq"] == anchor["seq"]:
            if data["hash"] != anchor["hash"]:
                return VerifyResult(False, checked, data["seq"], prev, f"event {data['seq']} does not match the anchor")
            anchor_seen = True
        prev, expected_seq, checked = data["hash"], expected_seq + 1, checked + 1
        if progress is not None:
            progress(1)
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if head is not None and (head.seq, head.hash) != (expected_seq - 1, prev):
        return VerifyResult(
            False,
            checked,
            expected_seq - 1,
            prev,
            f"the trail ends at event {expected_seq - 1} but the head says {head.seq}"
            " (events were removed from the end)",
        )
    if not anchor_seen:
        return VerifyResult(
            False,
            checked,
            expected_seq - 1,
            prev,
            f"anchored event {anchor['seq']} is missing (the trail was truncated)",
        )
    return VerifyResult(True, checked, expected_seq - 1, prev)


def trail_for(
    session: Session, entity_type: str, entity_id, import_batch_id: int | None = None, limit: int = 200
) -> list[AuditEvent]:
    """The newest events about one record, for its page (with the import that created it, if any)."""
    where = (AuditEvent.entity_type == entity_type) & (AuditEvent.entity_id == str(entity_id))
    if import_batch_id is not None:
        where |= (
            (AuditEvent.entity_type == "import_batch")
            & (AuditEvent.entity_id == str(import_batch_id))
            & (AuditEvent.action == "import.completed")
        )
    return list(session.scalars(select(AuditEvent).where(where).order_by(AuditEvent.seq.desc()).limit(limit)))
