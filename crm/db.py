"""Database layer: the declarative base, engines, and one session per request.

SQLite and PostgreSQL behave the same from the caller's side. On SQLite we take over
transaction control from the driver so that a write transaction starts with
``BEGIN IMMEDIATE``: it takes the write lock up front instead of failing half-way with
"database is locked" when it upgrades from reading to writing under a concurrent writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal

from sqlalchemy import DateTime, Engine, MetaData, Numeric, bindparam, create_engine, event, insert, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(14, 2)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's text: ``column`` holds one of ``values`` (or is NULL, as in SQL),
    written as comparisons joined by OR (migrations 0014 and 0015 made the tier and entry
    type checks so; the same text on both databases)."""
    return " OR ".join(f"{column} = '{value}'" for value in values)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on both databases (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {Decimal: Money, dt.datetime: UTCDateTime()}


def utcnow() -> dt.datetime:
    """The server's clock in UTC: the only source of record times."""
    return dt.datetime.now(dt.UTC)


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine with the per-database settings we rely on."""
    # A database error's message (logged with its traceback) must not list the statement's
    # parameters: they are whole rows, ID numbers and phones included.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=10, max_overflow=20)
    return create_engine(url, pool_pre_ping=True, **kwargs)


BUSY_TIMEOUT_MS = 30_000  # how long a SQLite connection waits for the write lock, by default


def lock_wait(conn, seconds: float | None) -> None:
    """How long ``conn`` (a Connection) waits for a lock another transaction holds before its
    statement fails with OperationalError: SQLite's write lock (busy_timeout, for the
    connection until set again; None: back to BUSY_TIMEOUT_MS) or a PostgreSQL lock
    (lock_timeout, for the current transaction only; None: no limit). Set on the driver, so
    that it begins no transaction of SQLAlchemy's."""
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS if seconds is None else int(seconds * 1000)}")
    elif seconds is not None:
        driver.execute(f"SET LOCAL lock_timeout = {int(seconds * 1000)}")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed redemption or import survives a power cut, not only a crash.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def writer(engine: Engine) -> Engine:
    """The same engine, but transactions on SQLite take the write lock at BEGIN."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(sqlite_begin="IMMEDIATE")
    return engine


class Database:
    """Holds the engine and session factories of one app (or one CLI/job process)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(writer(self.engine), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, write: bool = False) -> Session:
        return (self._write_sessions if write else self._read_sessions)()

    @contextlib.contextmanager
    def transaction(self, lock: bool = True) -> Iterator[Session]:
        """A write transaction for jobs and commands: commit on success, roll back on error.

        On SQLite it takes the write lock at BEGIN; with ``lock=False``, at its first write to
        a table of the database (for a long transaction that writes only at its end)."""
        session = self.session(write=lock)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


# --- per-request session (Flask side) -------------------------------------------------


def init_app(app, database: Database) -> None:
    """Register the database with an app: a session per request, closed at teardown."""
    app.extensions["crm_db"] = database

    @app.teardown_appcontext
    def _close_session(_exc):
        from flask import g

        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # a request that did not commit rolls back here


def get_db():
    from flask import current_app

    return current_app.extensions["crm_db"]


def get_session() -> Session:
    """The request's session; write requests take SQLite's write lock at BEGIN."""
    from flask import g, has_request_context, request

    if "db_session" not in g:
        write = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
        g.db_session = get_db().session(write=write)
    return g.db_session


# The ids bound as :ids (ids_param) as a table of one column, ``value``: a bulk statement
# takes any number of ids as ONE parameter (SQLite reads a JSON array, PostgreSQL an array),
# where an IN list takes a parameter per id, and SQLite at most 32,766 of them.
_ID_ROWS = {
    "sqlite": "SELECT value FROM json_each(:ids)",
    "postgresql": "SELECT unnest(CAST(:ids AS BIGINT[])) AS value",
}


IDS_PER_STATEMENT = 100_000  # ids bound at a time: a bulk path's memory is bounded by it


def id_rows(dialect: str) -> str:
    """SQL for the table of the ids bound as :ids (see ids_param), to insert rows from."""
    return _ID_ROWS[dialect]


# The test that ``column`` is one of the ids bound as :ids. Not a join with id_rows on
# PostgreSQL: within a run's transaction its planner still believes a table it has just
# filled empty (its statistics predate the run), and rescans the ids for each of its rows,
# quadratic in the ids. ANY(array) is a test of each row.
_ID_IN = {"sqlite": "{0} IN (SELECT value FROM json_each(:ids))", "postgresql": "{0} = ANY(CAST(:ids AS BIGINT[]))"}


def id_in(dialect: str, column: str) -> str:
    """SQL that ``column`` is one of the ids bound as :ids (see ids_param)."""
    return _ID_IN[dialect].format(column)


def typed_text(sql: str, **types):
    """``sql`` as a statement whose named parameters are bound as ``types``: dates, times and
    money stored as the ORM stores them, for the bulk statements written as SQL."""
    return text(sql).bindparams(*(bindparam(name, type_=type_) for name, type_ in types.items()))


def ids_param(dialect: str, ids) -> object:
    """The value to bind as :ids for id_rows and id_in."""
    whole = [int(i) for i in ids]
    return json.dumps(whole) if dialect == "sqlite" else whole


def bulk_insert(session: Session, table, columns: dict[str, list]) -> None:
    """Insert many rows in the session's transaction: ``columns`` maps each column's name to
    its values, all of the same length.

    PostgreSQL gets COPY through psycopg 3's ``write_row`` on the session's own connection
    (values travel as values, never as SQL text); SQLite an ordinary
    ``session.execute(insert(table), rows)``.
    """
    names, values = list(columns), list(columns.values())
    if not values or not len(values[0]):
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        session.execute(insert(table), [dict(zip(names, row)) for row in zip(*values)])
        return
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with conn.connection.driver_connection.cursor() as cur, cur.copy(statement) as copy:
        for row in zip(*values):
            copy.write_row(row)
