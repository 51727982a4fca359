"""Migrations: one head, empty → head → base → head on both databases, models agree."""
from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from crm.db import Base
from crm.migrate import alembic_config, downgrade, upgrade


def test_single_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_models_and_migrations_agree(db_url):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == [], diff


def _fresh_url(db_url: str, tmp_path) -> tuple[str, callable]:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'fresh.sqlite3'}", lambda: None
    name = f"crm_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(db_url).set(database=name).render_as_string(hide_password=False), drop


def test_upgrade_downgrade_upgrade(db_url, tmp_path):
    url, drop = _fresh_url(db_url, tmp_path)
    try:
        upgrade(url)
        engine = create_engine(url)
        assert {"customers", "policies", "claims", "audit_events"} <= set(inspect(engine).get_table_names())
        engine.dispose()
        downgrade(url, "base")
        engine = create_engine(url)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()
        upgrade(url)
    finally:
        drop()
