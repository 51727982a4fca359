"""Database layer: the declarative base, engines, and one session per request.

SQLite and PostgreSQL behave the same from the caller's side. On SQLite we take over
transaction control from the driver so that a write transaction starts with
``BEGIN IMMEDIATE``: it takes the write lock up front instead of failing half-way with
"database is locked" when it upgrades from reading to writing under a concurrent writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from decimal import Decimal

from sqlalchemy import DateTime, Engine, MetaData, Numeric, create_engine, event
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
    written as comparisons joined by OR. Not ``IN (...)``: SQLite builds the list's lookup
    table again for every row it checks, which took 0.38 s of the 0.78 s that inserting a
    million tier rows took (measured on SQLite 3.40); the comparisons took 0.02 s."""
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


def make_engine(url: str, lock_wait: float | None = None, **kwargs) -> Engine:
    """Create an engine with the per-database settings we rely on.

    ``lock_wait``: how many seconds a statement of its connections waits for a lock another
    transaction holds (SQLite's write lock, a PostgreSQL row or table lock) before it fails
    with OperationalError; by default SQLite waits BUSY_TIMEOUT_MS and PostgreSQL as long as
    it takes. Set once on each connection as it is opened, so that it costs a request nothing.
    """
    # A database error's message (logged with its traceback) must not list the statement's
    # parameters: they are whole rows, ID numbers and phones included.
    kwargs.setdefault("hide_parameters", True)
    wait_ms = None if lock_wait is None else int(lock_wait * 1000)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine, BUSY_TIMEOUT_MS if wait_ms is None else wait_ms)
        return engine
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=10, max_overflow=20)
    if wait_ms is not None:
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "options": f"-c lock_timeout={wait_ms}"}
    return create_engine(url, pool_pre_ping=True, **kwargs)


BUSY_TIMEOUT_MS = 30_000  # how long a SQLite connection waits for the write lock, by default


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed redemption or import survives a power cut, not only a crash.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        # The sorter (CREATE INDEX, a large ORDER BY) may use a second thread: a first run's
        # tier index over a million rows was built in 0.37 s instead of 0.48 s.
        cur.execute("PRAGMA threads=2")
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
        self._impatient: dict[float, Engine] = {}
        self._impatient_lock = threading.Lock()

    def impatient(self, lock_wait: float) -> Engine:
        """An engine on the same database whose statements wait at most ``lock_wait`` seconds
        for another transaction's lock (see make_engine), with a pool of its own: for callers
        that must answer at once rather than queue behind a long import or run."""
        with self._impatient_lock:
            engine = self._impatient.get(lock_wait)
            if engine is None:
                engine = self._impatient[lock_wait] = make_engine(self.url, lock_wait=lock_wait)
        return engine

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
        for engine in self._impatient.values():
            engine.dispose()


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
