"""Seeded-database templates: a test that needs a large seeded portfolio gets a copy of one
seeded once per test session (per xdist worker) instead of seeding it again.

    @pytest.fixture
    def portfolio(database):
        return seeded(database, "demo-600-3", lambda: seed_demo(database, 600, seed=3, as_of=AS_OF))

The first call for a key and database kind runs the seed on the test's own (empty, migrated)
database and keeps a copy; later calls replace the test's database by the copy. On SQLite the
copy is a file (SQLite's backup API); on PostgreSQL a schema of the session's database with a
copy of every table, restored with one INSERT … SELECT per table in one transaction (several
times faster here than CREATE DATABASE … TEMPLATE, which needs a checkpoint or WAL-logs every
page). The seed must depend on nothing but its key (no users or rows made by the test first).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from crm import audit

_TEMPLATES: dict[tuple[str, str], str] = {}  # (dialect, key) → template file or schema
_DIR: list[Path] = []


def seeded(database, key: str, seed: Callable[[], object]):
    """Fill ``database`` (empty and migrated) with what ``seed()`` writes; returns ``database``."""
    template = _TEMPLATES.get((database.dialect, key))
    if template is None:
        seed()
        audit.seal_pending(database)  # as the scheduler would: a template is used long after
        _TEMPLATES[(database.dialect, key)] = _keep(database, key)
    else:
        _restore(database, template)
    return database


def _keep(database, key: str) -> str:
    if database.dialect == "sqlite":
        if not _DIR:
            _DIR.append(Path(tempfile.mkdtemp(prefix="crm-test-templates-")))
        path = _DIR[0] / f"{len(_TEMPLATES)}.sqlite3"
        _copy_sqlite(database.engine.url.database, str(path))
        return str(path)
    schema = f"template_{len(_TEMPLATES)}"
    with database.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        for table, columns in _pg_tables(conn):
            conn.execute(text(f'CREATE TABLE "{schema}"."{table}" AS SELECT {columns} FROM public."{table}"'))
        conn.execute(
            text(
                f'CREATE TABLE "{schema}"._sequences AS SELECT sequencename AS name, last_value '
                "FROM pg_sequences WHERE schemaname = 'public'"
            )
        )
    return schema


def _restore(database, template: str) -> None:
    if database.dialect == "sqlite":
        database.dispose()
        _copy_sqlite(template, database.engine.url.database)
        return
    with database.engine.begin() as conn:
        statements = ["SET LOCAL session_replication_role = replica"]  # no triggers, no FK checks
        for table, columns in _pg_tables(conn):
            statements += [
                f'DELETE FROM public."{table}"',
                f'INSERT INTO public."{table}" ({columns}) OVERRIDING SYSTEM VALUE '
                f'SELECT {columns} FROM "{template}"."{table}"',
            ]
        statements.append(
            f"SELECT setval('public.' || quote_ident(name), last_value, true) "
            f'FROM "{template}"._sequences WHERE last_value IS NOT NULL'
        )
        conn.exec_driver_sql("; ".join(statements))  # no parameters: one round trip


def _pg_tables(conn) -> list[tuple[str, str]]:
    """(table, its stored columns: generated ones left out) for every table of the schema."""
    rows = conn.execute(
        text(
            "SELECT c.relname, string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version' "
            "GROUP BY c.relname ORDER BY c.relname"
        )
    )
    return [(table, columns) for table, columns in rows]


def _copy_sqlite(source: str, target: str) -> None:
    """A consistent copy through SQLite's backup API (it sees the WAL as readers do)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
