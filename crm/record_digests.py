"""Tamper evidence of the records themselves (防篡改), beside the audit trail's hash chain.

Every write the application makes to an audited table (customers, policies, claims, coupons,
redemptions, entitlement entries, tiers) stores, in the same transaction, a digest of the
record's new state in ``record_digests``; `crm audit verify` recomputes every record's digest
and names each one whose stored state is not the one the application left, as
``TABLE KEY: field, field`` — the guarantee of SQL Server's ledger tables and Oracle's
blockchain tables.

- **One canonical state per record**: a fixed list of fields per table (the business state,
  not bookkeeping such as ``updated_at``), each rendered as text by the database itself
  (``state_sql``), joined by U+001F, NULL as U+001E. The same SQL is read when a digest is
  written (the changed records read back by id after the write, or returned by the write
  itself) and when it is verified (every record), so no Python value and no driver can make
  the two disagree.
- **The digest is keyed**: BLAKE2b keyed with a key derived from the app's SECRET_KEY, which
  is not in the database, over the table, key and state; so a direct UPDATE of a record and
  of its digest together is still caught (nobody without the secret can compute the new
  one). Keyed rather than carried by the audit events: verify stays one pass over each table
  beside its digests, instead of replaying the trail to find each record's last event;
  and a write adds one row per record, not a payload to the event every writer queues on.
  What a key cannot catch: a record and its digest row put back together to an earlier
  pair copied before, or deleted together. Rotating SECRET_KEY makes every digest stale:
  run `crm audit baseline --all` after it.
- **Fields**: ``tags`` keeps a 16-bit check (CRC-32's low half) of each field, only to name
  the fields that differ once the keyed digest does not match.
- **O(changes)**: the ORM's writes are covered by two session events (after_flush for added,
  changed and deleted objects; do_orm_execute for ``session.execute(update(Model)…)``); the
  bulk paths that write with Core or on the driver call ``write(session, table, ids)`` with
  the ids they wrote (the importer, the benefit ledger); the partner API's redemptions and
  voids read their records' states in the RETURNING of their own writes and ``store`` both
  digests in one statement; a recalculation's tier writes return theirs too, ``made`` makes
  their digests and ``store_made`` stores them in bulk. A digest that already matches is not
  written again, and an UPDATE statement writes those of the rows whose state it changed,
  not of every row it matched: a row it left as it was keeps the digest that shows a change
  made outside.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from sqlalchemy import bindparam, column, event, literal_column, select, text, true
from sqlalchemy import table as table_clause
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm.bulk import IDS_PER_STATEMENT, bulk_insert, driver_rows, id_in, ids_param
from crm.models.digests import RecordDigest

SEPARATOR, NULL = "\x1f", "\x1e"
_SEPARATOR_BYTE = SEPARATOR.encode()


@dataclass(frozen=True)
class Spec:
    key: str
    fields: tuple[tuple[str, str], ...]  # (column, kind): text, int, date, time, money, bool

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _kind in self.fields)


# The state each audited table's digest covers. Adding a field makes every stored digest of
# its table stale: follow it with `crm audit baseline --all`.
SPECS: dict[str, Spec] = {
    "customers": Spec(
        "id",
        (
            ("customer_ref", "text"),
            ("name", "text"),
            ("id_number", "text"),
            ("birth_date", "date"),
            ("gender", "text"),
            ("phone", "text"),
            ("city", "text"),
            ("source", "text"),
            ("referred_by_id", "int"),
            ("account_manager_id", "int"),
        ),
    ),
    "policies": Spec(
        "id",
        (
            ("policy_no", "text"),
            ("customer_id", "int"),
            ("product_code", "text"),
            ("product_type", "text"),
            ("start_date", "date"),
            ("end_date", "date"),
            ("term_years", "int"),
            ("payment_mode", "text"),
            ("annual_premium", "money"),
            ("status", "text"),
            ("voided_at", "time"),
            ("void_reason", "text"),
            ("void_requested_by", "text"),
            ("void_requested_at", "time"),
        ),
    ),
    "claims": Spec(
        "id",
        (
            ("claim_no", "text"),
            ("policy_id", "int"),
            ("customer_id", "int"),
            ("loss_date", "date"),
            ("report_date", "date"),
            ("status", "text"),
            ("claimed_amount", "money"),
            ("reserve_amount", "money"),
            ("paid_amount", "money"),
            ("fraud_suspected", "bool"),
            ("voided_at", "time"),
            ("void_reason", "text"),
        ),
    ),
    "coupons": Spec(
        "id",
        (
            ("code", "text"),
            ("customer_id", "int"),
            ("partner_id", "int"),
            ("value", "money"),
            ("currency", "text"),
            ("unit_cost", "money"),
            ("status", "text"),
            ("issued_at", "time"),
            ("expires_on", "date"),
            ("entitlement_id", "int"),
        ),
    ),
    "redemptions": Spec(
        "id",
        (
            ("coupon_id", "int"),
            ("live_coupon_id", "int"),
            ("partner_id", "int"),
            ("store_id", "text"),
            ("amount", "money"),
            ("redeemed_at", "time"),
            ("voided_at", "time"),
            ("void_reason", "text"),
        ),
    ),
    "entitlement_entries": Spec(
        "id",
        (
            ("customer_id", "int"),
            ("benefit_code", "text"),
            ("kind", "text"),
            ("period_start", "date"),
            ("period_end", "date"),
            ("entry_type", "text"),
            ("quantity", "int"),
            ("once_key", "text"),
            ("catalogue_version", "int"),
            ("note", "text"),
        ),
    ),
    "customer_tiers": Spec(
        "customer_id",
        (
            ("tier", "text"),
            ("reasons", "text"),
            ("computed_tier", "text"),
            ("computed_reasons", "text"),
            ("value_score", "money"),
            ("risk_score", "money"),
            ("run_id", "int"),
            ("as_of", "date"),
        ),
    ),
}

# Each kind of column as text, by the database: stable for a stored value whatever the
# session's settings (PostgreSQL's DateStyle and TimeZone do not reach these forms).
_PG_TEXT = {
    "date": "to_char({0}, 'YYYY-MM-DD')",
    "time": "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
    "bool": "CAST(CAST({0} AS INTEGER) AS TEXT)",
}
_CHAR = {"sqlite": "char({0})", "postgresql": "chr({0})"}


def _joined_sql(dialect: str, parts: list[tuple[str, str]]) -> str:
    """SQL of the values ``parts`` ((expression, kind)) as text joined by U+001F, NULL as U+001E."""
    sep, null = (_CHAR[dialect].format(ord(c)) for c in (SEPARATOR, NULL))
    if dialect == "sqlite":
        # One printf for the whole text, whose %s renders a value as CAST AS TEXT does: a ||
        # between every two values cost twice as much. (%.2f prints NULL as 0.00.)
        form = f" || {sep} || ".join("'%.2f'" if kind == "money" else "'%s'" for _sql, kind in parts)
        values = ", ".join(sql if kind == "money" else f"COALESCE({sql}, {null})" for sql, kind in parts)
        return f"printf({form}, {values})"
    values = ", ".join(
        f"COALESCE({_PG_TEXT.get(kind, 'CAST({0} AS TEXT)').format(sql)}, {null})" for sql, kind in parts
    )
    return f"concat_ws({sep}, {values})"


def state_sql(dialect: str, table: str, alias: str = "") -> str:
    """SQL of a record's canonical state (one text) in ``table``: what a digest covers."""
    return _joined_sql(dialect, [(alias + name, kind) for name, kind in SPECS[table].fields])


def message_sql(dialect: str, table: str, alias: str = "") -> str:
    """SQL of the text a record's digest is taken over (see mac): its table, key and state."""
    spec = SPECS[table]  # the table's name is one of SPECS', written into the SQL as a constant
    parts = [(f"'{table}'", "text"), (alias + spec.key, "int")]
    return _joined_sql(dialect, parts + [(alias + name, kind) for name, kind in spec.fields])


# --- the key -------------------------------------------------------------------------

_key: bytes | None = None


def use_secret(secret: str) -> None:
    """Key the digests with the app's SECRET_KEY (create_app calls it)."""
    global _key
    _key = hashlib.sha256(b"crm.record_digests\x00" + secret.encode()).digest()


def _the_key() -> bytes:
    if _key is None:  # a process without an app (a benchmark, a script): the configured secret
        from crm.config import load_settings

        use_secret(load_settings().secret_key)
    return _key


def mac(table: str, record_id: int, state: str, key: bytes | None = None) -> str:
    """The keyed digest of one record's state."""
    return _macs([f"{table}{SEPARATOR}{record_id}{SEPARATOR}{state}"], key or _the_key())[0]


def _macs(messages: list[str], key: bytes) -> list[str]:
    """The keyed digest of each message (message_sql's text): a copy of the keyed hash for
    each, so that the key's own block is hashed once, not once per message."""
    keyed, out = hashlib.blake2b(key=key, digest_size=16), []
    for message in messages:
        digest = keyed.copy()
        digest.update(message.encode())
        out.append(digest.hexdigest())
    return out


def tags(state: str) -> str:
    """A 16-bit check of each field of ``state``, as 4 hex digits each."""
    return "".join(f"{zlib.crc32(f.encode()) & 0xFFFF:04x}" for f in state.split(SEPARATOR))


def _tags(messages: list[str], width: int) -> list[str]:
    """tags() of the state in each message (message_sql's text) of a table of ``width``
    fields, in bulk: a first run's write takes them for every customer's tier."""
    fields = [f for m in messages for f in m.encode().split(_SEPARATOR_BYTE)[2:]]
    if len(fields) != width * len(messages):  # a field holding the separator itself
        return [tags(m.split(SEPARATOR, 2)[2]) for m in messages]
    checks = (np.fromiter(map(zlib.crc32, fields), np.uint32, len(fields)) & 0xFFFF).astype(">u2")
    hexed, step = checks.tobytes().hex(), 4 * width
    return [hexed[i : i + step] for i in range(0, len(hexed), step)]


# --- writing -------------------------------------------------------------------------


def write(session, table: str, ids: Iterable[int]) -> None:
    """Store the digests of records ``ids`` of ``table`` as they now are, in the session's
    transaction (a Session): call it after writing them. A record that is no longer there
    loses its digest; one whose digest is already its state's is left as it is."""
    ids = sorted({int(i) for i in ids})
    if not ids:
        return
    conn, key, width = session.connection(), _the_key(), len(SPECS[table].fields)
    dialect = conn.dialect.name
    forget = text(f"DELETE FROM record_digests WHERE tbl = :tbl AND {id_in(dialect, 'record_id')}")  # nosec B608
    for start in range(0, len(ids), IDS_PER_STATEMENT):
        part = ids[start : start + IDS_PER_STATEMENT]
        rows = _messages(conn, table, part)
        stored = _stored(conn, table, part)
        fresh = _macs([message for _k, message in rows], key)
        stale = [(k, message, digest) for (k, message), digest in zip(rows, fresh) if stored.get(k) != digest]
        gone = [k for k, _message, _digest in stale if k in stored]
        gone += sorted(stored.keys() - {k for k, _message in rows})
        if gone:
            conn.execute(forget, {"tbl": table, "ids": ids_param(dialect, gone)})
        if stale:
            bulk_insert(
                session,
                RecordDigest.__table__,
                {
                    "tbl": [table] * len(stale),
                    "record_id": [k for k, _message, _digest in stale],
                    "mac": [digest for _k, _message, digest in stale],
                    "tags": _tags([message for _k, message, _digest in stale], width),
                },
            )


def _messages(conn, table: str, ids: list[int]) -> list[tuple[int, str]]:
    """(key, message) of the records ``ids`` of ``table`` that are there."""
    dialect, key = conn.dialect.name, SPECS[table].key
    read = text(
        f"SELECT {key}, {message_sql(dialect, table)} FROM {table} WHERE {id_in(dialect, key)}"  # nosec B608 - names from SPECS
    )
    return driver_rows(conn, read, {"ids": ids_param(dialect, ids)})


def _stored(conn, table: str, ids: list[int]) -> dict[int, str]:
    """The stored digest of each record of ``ids`` of ``table`` that has one."""
    # The range too: PostgreSQL otherwise read every digest of the table for a long list.
    listed = f"record_id BETWEEN :lo AND :hi AND {id_in(conn.dialect.name, 'record_id')}"
    read = text(f"SELECT record_id, mac FROM record_digests WHERE tbl = :tbl AND {listed}")  # nosec B608
    params = {"tbl": table, "lo": min(ids), "hi": max(ids), "ids": ids_param(conn.dialect.name, ids)}
    return dict(driver_rows(conn, read, params))


def returned(dialect: str, table: str):
    """A column to add to the RETURNING of a statement that writes records of ``table``: each
    record's message (message_sql's text) as the statement left it, for ``store`` — the same
    SQL as a read back by id, without the read."""
    return literal_column(message_sql(dialect, table)).label("digest_message")


_DIALECTS = {"postgresql": postgresql, "sqlite": sqlite}  # the INSERT constructs with ON CONFLICT


def _replacing_stale(statement) -> object:
    """An INSERT of digests (a dialect's) made to replace a record's stale digest and leave one
    already right as it is."""
    digests = RecordDigest.__table__
    return statement.on_conflict_do_update(
        index_elements=[digests.c.tbl, digests.c.record_id],
        set_={"mac": statement.excluded.mac, "tags": statement.excluded.tags},
        where=digests.c.mac != statement.excluded.mac,
    )


_UPSERT = {name: _replacing_stale(dialect.insert(RecordDigest.__table__)) for name, dialect in _DIALECTS.items()}


def store(session, messages: Iterable[tuple[str, int, str]]) -> None:
    """Store the digests of records whose messages the caller has read (``returned`` in the
    RETURNING of the statement that wrote them): (table, key, message) each, in one
    statement, in the session's transaction. For a few records of any tables at a time (the
    partner API's redemption and coupon); ``write`` reads the records itself."""
    rows = [(table, key, message) for table, key, message in messages]
    if not rows:
        return
    conn = session.connection()
    digests = _macs([message for _table, _key, message in rows], _the_key())
    conn.execute(
        _UPSERT[conn.dialect.name],
        [
            {"tbl": table, "record_id": key, "mac": digest, "tags": tags(message.split(SEPARATOR, 2)[2])}
            for (table, key, message), digest in zip(rows, digests)
        ],
    )


# The digests ``made`` of records' messages, staged on the session's connection (bulk_insert's
# COPY on PostgreSQL), then upserted from there by one statement.
_STAGE = table_clause("digest_stage", column("record_id"), column("mac"), column("tags"))
_CREATE_STAGE = f"""CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE.name} (
    record_id BIGINT NOT NULL, mac VARCHAR(32) NOT NULL, tags VARCHAR(80) NOT NULL)"""


def _upsert_staged(dialect) -> object:
    """INSERT of the staged digests (of the table bound as :tbl) that replaces a record's stale
    one and leaves one already right as it is."""
    digests = RecordDigest.__table__
    staged = select(bindparam("tbl", type_=digests.c.tbl.type), _STAGE.c.record_id, _STAGE.c.mac, _STAGE.c.tags)
    # WHERE true: SQLite reads an ON after a bare SELECT … FROM as a join's.
    return _replacing_stale(
        dialect.insert(digests).from_select(
            ["tbl", "record_id", "mac", "tags"], staged.where(true()).order_by(_STAGE.c.record_id)
        )
    )


_UPSERT_STAGED = {name: _upsert_staged(dialect) for name, dialect in _DIALECTS.items()}


def made(table: str, rows: list[tuple[int, str]]) -> dict[str, list]:
    """The digests of many records of ``table`` whose messages the statements that wrote them
    returned (``message_sql`` in their RETURNING): (key, message) each, as ``store_made``
    takes them. Only Python, no database: it may run in another thread while the connection
    goes on writing (a recalculation's tiers)."""
    messages = [message for _key, message in rows]
    return {
        "record_id": [key for key, _message in rows],
        "mac": _macs(messages, _the_key()),
        "tags": _tags(messages, len(SPECS[table].fields)),
    }


def store_made(session, table: str, batches: Iterable[dict[str, list]]) -> None:
    """Store the digests ``made`` of records of ``table``, in the session's transaction, with
    one upsert for them all: a stale digest is replaced, one already right is left as it is,
    and none is read first (a first run's tiers have none)."""
    batches = [batch for batch in batches if batch["record_id"]]
    if not batches:
        return
    conn = session.connection()
    conn.execute(text(_CREATE_STAGE))
    for batch in batches:
        bulk_insert(session, _STAGE, batch)
    conn.execute(_UPSERT_STAGED[conn.dialect.name], {"tbl": table})
    conn.execute(text(f"DELETE FROM {_STAGE.name}"))  # nosec B608 - a constant name


def _after_flush(session: Session, _context) -> None:
    """The ORM's writes: every added, changed or deleted object of an audited table."""
    touched = defaultdict(set)
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table in SPECS:
            touched[table].add(getattr(obj, SPECS[table].key))
    for table, ids in touched.items():
        write(session, table, ids)


def _orm_statement(state):
    """``session.execute(update(Model)…)`` or delete on an audited table: the rows it will
    touch are read first (by its own WHERE), and the digests of those it changed written
    after it."""
    if not (state.is_update or state.is_delete):
        return None
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    spec = SPECS.get(name)
    if spec is None:
        return None
    conn = state.session.connection()
    params = state.parameters
    if isinstance(params, list):  # executemany by key
        before = dict(_messages(conn, name, [p[spec.key] for p in params if spec.key in p]))
    else:
        query = select(table.c[spec.key], literal_column(message_sql(conn.dialect.name, name, f"{name}.")))
        where = state.statement.whereclause
        before = dict(conn.execute(query if where is None else query.where(where), params or {}).all())
    result = state.invoke_statement()
    if result.rowcount == 0:
        # It changed nothing: a conditional UPDATE that lost a race (a coupon redeemed by a
        # concurrent request). Writing would read the state the winner is about to replace.
        return result
    # Only the rows it changed: one it matched and left as it was keeps its digest (and a
    # change made to it outside the application stays visible).
    after = dict(_messages(conn, name, list(before)))
    write(state.session, name, [k for k, message in before.items() if after.get(k) != message])
    return result


event.listen(Session, "after_flush", _after_flush)
event.listen(Session, "do_orm_execute", _orm_statement)


# --- verifying -----------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A record whose stored state is not the one its last audited change left."""

    table: str
    key: int
    fields: tuple[str, ...]  # the fields that differ; ("deleted",), ("inserted",) or ("digest",)

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {', '.join(self.fields)}"


STREAM = 50_000  # records read at a time
SLICE = 250_000  # keys of a table checked at a time, in one snapshot (by one worker)
MAX_WORKERS = 4  # worker processes at most (each holds a database connection), as a tier run's
_BELOW, _ABOVE = -(2**63), 2**63 - 1  # below and above every key
_STORED = text("SELECT record_id, mac FROM record_digests WHERE tbl = :tbl AND record_id > :lo AND record_id <= :hi")


def verify(
    session: Session,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
    keys_per_slice: int = SLICE,
) -> list[Finding]:
    """Every audited record against its digest; returns what differs (empty: every record
    holds the state the application left). ``progress(done, total, table)`` is called as
    records are checked.

    Each table is checked in slices of ``keys_per_slice`` keys, a slice's records beside the
    digests of the same keys, in one snapshot: a record and its digest are written in one
    transaction, so that they always agree there. Once a table has several slices, ``workers``
    processes (default: one per core, MAX_WORKERS at most) check them, each on its own
    connection: the hashing, and the database's rendering of the records, on every core. Otherwise (or with one
    worker) every slice is checked here, on the session's connection, in one snapshot."""
    # PostgreSQL: REPEATABLE READ, if verify begins the transaction (SQLite's read
    # transaction is one snapshot already).
    fresh = session.get_bind().dialect.name == "postgresql" and not session.in_transaction()
    conn = (
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"}) if fresh else session.connection()
    )
    spans = {table: _span(conn, table) for table in SPECS}
    slices = [part for table, span in spans.items() for part in _slices(table, span, keys_per_slice)]
    workers = workers or min(MAX_WORKERS, os.cpu_count() or 1)
    if workers > 1 and len(slices) > len(SPECS) and not _in_memory(conn):  # a table of several slices
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),  # nothing of this process's connections
            initializer=_start_worker,
            initargs=(conn.engine.url.render_as_string(hide_password=False), _the_key()),
        )
        try:
            return _gather(slices, pool.map(_check_in_worker, slices), spans, progress)
        finally:
            pool.shutdown(cancel_futures=True)  # on an error or ^C, not after every slice left
    key = _the_key()
    return _gather(slices, (_check_slice(conn, *part, key) for part in slices), spans, progress)


def _span(conn, table: str) -> tuple[int | None, int | None]:
    """The lowest and highest key of ``table`` (None, None if it is empty)."""
    key = SPECS[table].key
    # Two subqueries: SQLite reads MIN or MAX alone off the index, both together by a scan.
    return conn.execute(text(f"SELECT (SELECT MIN({key}) FROM {table}), (SELECT MAX({key}) FROM {table})")).one()  # nosec B608


def _slices(table: str, span: tuple[int | None, int | None], size: int) -> list[tuple[str, int, int]]:
    """(table, lo, hi) of each slice of ``table``'s keys (lo < key <= hi), the outer two
    open-ended: a digest whose record is gone may lie beyond the keys there are."""
    low, high = span
    inner = [] if low is None else list(range(low - 1 + size, high, size))
    bounds = [_BELOW, *inner, _ABOVE]
    return [(table, lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def _gather(slices, results, spans, progress) -> list[Finding]:
    """The findings of ``results`` (those of ``slices``, in order). Progress is counted
    against the span of each table's keys (a sequence's: about as many as its records)."""
    found, done = [], dict.fromkeys(SPECS, 0)
    for (table, _lo, _hi), (checked, findings) in zip(slices, results):
        found += findings
        done[table] += checked
        if progress is not None:
            low, high = spans[table]
            progress(done[table], max(0 if low is None else high - low + 1, done[table]), table)
    return sorted(found, key=lambda f: (list(SPECS).index(f.table), f.key))


def _in_memory(conn) -> bool:
    """Whether the database lives in this process only (SQLite's :memory:)."""
    return conn.dialect.name == "sqlite" and conn.engine.url.database in (None, "", ":memory:")


_worker: dict = {}  # a worker process's engine and key


def _start_worker(url: str, key: bytes) -> None:
    from sqlalchemy.pool import NullPool

    from crm.db import make_engine

    _worker.update(engine=make_engine(url, poolclass=NullPool), key=key)


def _check_in_worker(part: tuple[str, int, int]) -> tuple[int, list[Finding]]:
    """_check_slice on a connection of the worker's own, in a snapshot of its own."""
    engine = _worker["engine"]
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if postgres:
            conn.execution_options(isolation_level="REPEATABLE READ")
        return _check_slice(conn, *part, _worker["key"])


def _check_slice(conn, table: str, lo: int, hi: int, key: bytes) -> tuple[int, list[Finding]]:
    """(records checked, findings) of the keys lo < key <= hi of ``table``. The records are
    read in runs in key order, each with the digests of the same keys: two range scans of a
    primary key, where a join read every digest of every table for each table (PostgreSQL
    hashed them) or looked each one up (SQLite)."""
    spec, dialect = SPECS[table], conn.dialect.name
    records = text(
        f"SELECT {spec.key}, {message_sql(dialect, table)} FROM {table} "  # nosec B608 - names from SPECS
        f"WHERE {spec.key} > :lo AND {spec.key} <= :hi ORDER BY {spec.key} LIMIT :n"
    )
    checked, bad, orphans = 0, [], []
    while lo < hi:
        rows = driver_rows(conn, records, {"lo": lo, "hi": hi, "n": STREAM})
        upto = rows[-1][0] if len(rows) == STREAM else hi
        digests = dict(driver_rows(conn, _STORED, {"tbl": table, "lo": lo, "hi": upto}))
        fresh = _macs([message for _k, message in rows], key)
        bad += [(k, m, digests.get(k)) for (k, m), digest in zip(rows, fresh) if digests.get(k) != digest]
        orphans += sorted(digests.keys() - {k for k, _message in rows})
        checked, lo = checked + len(rows), upto
    return checked, _named(conn, table, bad) + [Finding(table, k, ("deleted",)) for k in orphans]


def _named(conn, table: str, bad: list[tuple[int, str, str | None]]) -> list[Finding]:
    """The fields of each mismatched record whose check differs from the stored one."""
    if not bad:
        return []
    listed = id_in(conn.dialect.name, "record_id")
    stored = dict(
        conn.execute(
            text(f"SELECT record_id, tags FROM record_digests WHERE tbl = :tbl AND {listed}"),  # nosec B608
            {"tbl": table, "ids": ids_param(conn.dialect.name, [k for k, _m, digest in bad if digest is not None])},
        ).all()
    )
    names, out = SPECS[table].names, []
    for k, message, digest in bad:
        if digest is None:
            out.append(Finding(table, k, ("inserted",)))
            continue
        now, then = tags(message.split(SEPARATOR, 2)[2]), stored.get(k, "")
        differ = tuple(n for i, n in enumerate(names) if now[4 * i : 4 * i + 4] != then[4 * i : 4 * i + 4])
        out.append(Finding(table, k, differ or ("digest",)))
    return out


def baseline(session: Session, every: bool = False) -> dict[str, int]:
    """Digests for the records that have none (a database from before digests), or with
    ``every`` for all of them (after SECRET_KEY changed). Returns the count per table; the
    caller audits it. Whatever the records hold now becomes their audited state: run it
    once, after `crm audit verify` of the trail, never to hide a finding."""
    conn, counts = session.connection(), {}
    for table, spec in SPECS.items():
        unsealed = (
            f" WHERE NOT EXISTS (SELECT 1 FROM record_digests AS d WHERE d.tbl = :tbl AND d.record_id = t.{spec.key})"  # nosec B608
        )
        where = "" if every else unsealed
        ids = list(conn.execute(text(f"SELECT t.{spec.key} FROM {table} AS t{where}"), {"tbl": table}).scalars())  # nosec B608
        write(session, table, ids)
        counts[table] = len(ids)
    return counts
