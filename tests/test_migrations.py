"""Migrations: one head, empty → head → base → head on both databases, models agree."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

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


def test_0011_keeps_only_the_states_customers_have_left(db_url, tmp_path):
    url, drop = _fresh_url(db_url, tmp_path)
    stamp = "'2026-02-01 00:00:00'"
    try:
        upgrade(url, "0010")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO customers (id, customer_ref, name, id_number, birth_date, gender, phone, "
                    "city, source, created_at, updated_at) VALUES (1, 'C1', 'n', '110105197001010011', "
                    f"'1970-01-01', 'M', '13800000000', 'x', 'other', {stamp}, {stamp})"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO customer_tiers (customer_id, tier, reasons, computed_tier, computed_reasons, "
                    "value_score, risk_score, run_id, as_of, updated_at) VALUES (1, 'vip', 'V_PREMIUM', "
                    f"'vip', 'V_PREMIUM', 60, 20, 2, '2026-02-01', {stamp})"
                )
            )
            # The old form: every state in the history, the current one (run 2) included.
            for run, tier, prev in ((1, "standard", "NULL"), (2, "vip", "'standard'")):
                conn.execute(
                    text(
                        "INSERT INTO tier_history (customer_id, run_id, tier, previous_tier, reasons, "
                        f"value_score, risk_score, as_of, changed_at) VALUES (1, {run}, '{tier}', {prev}, "
                        f"'', 50, 20, '2026-01-01', {stamp})"
                    )
                )
        engine.dispose()
        upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT run_id, tier FROM tier_history")).all() == [(1, "standard")]
            assert "previous_tier" not in {c["name"] for c in inspect(conn).get_columns("tier_history")}
        engine.dispose()
    finally:
        drop()


def test_0010_leaves_room_on_the_tier_pages_for_hot_updates_on_postgresql(pg_database):
    # (SQLite has no fill factor: there the run leaves the tier column out of the UPDATE instead.)
    engine = create_engine(pg_database)
    with engine.connect() as conn:
        options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'customer_tiers'")).scalar()
    engine.dispose()
    assert "fillfactor=50" in (options or [])


def test_0014_tier_tables_check_their_tier_with_comparisons(db_url):
    # SQLite rebuilds an IN list's lookup table for every row a CHECK checks (crm.db.one_of);
    # the comparisons admit the same tiers, and still refuse any other.
    engine = create_engine(db_url)
    try:
        checks = {
            table: {c["name"]: c["sqltext"] for c in inspect(engine).get_check_constraints(table)}
            for table in ("customer_tiers", "tier_history", "tier_overrides")
        }
        for table, by_name in checks.items():
            check = by_name[f"ck_{table}_tier"]
            assert " IN " not in check.upper() and "ANY" not in check.upper(), check
            assert all(f"'{tier}'" in check for tier in ("vip", "standard", "watchlist")), check
        stamp = "'2026-02-01 00:00:00'"
        insert = (
            "INSERT INTO customer_tiers (customer_id, tier, reasons, computed_tier, computed_reasons, "
            "value_score, risk_score, as_of, updated_at) "
            f"VALUES (:id, :tier, '', 'standard', '', 1, 1, '2026-02-01', {stamp})"
        )
        with engine.connect() as conn:
            conn.execute(text(insert), {"id": 1, "tier": "watchlist"})
            with pytest.raises(IntegrityError):
                conn.execute(text(insert), {"id": 2, "tier": "gold"})
            conn.rollback()
    finally:
        engine.dispose()


def test_0015_the_ledger_checks_its_entry_type_with_comparisons(db_url):
    engine = create_engine(db_url)
    try:
        checks = {c["name"]: c["sqltext"] for c in inspect(engine).get_check_constraints("entitlement_entries")}
        check = checks["ck_entitlement_entries_entry_type"]
        assert " IN " not in check.upper() and "ANY" not in check.upper(), check
        assert all(f"'{t}'" in check for t in ("grant", "renew", "consume", "return", "stop", "suspend", "resume"))
    finally:
        engine.dispose()


def test_0025_reads_why_each_case_opened_into_a_code_once_and_keeps_what_it_cannot_read(db_url, tmp_path):
    from flask_babel import force_locale

    from crm.app import create_app
    from crm.review.labels import case_why

    url, drop = _fresh_url(db_url, tmp_path)
    stamp = "'2026-02-01 00:00:00'"
    old = {
        "claimed 86000.00 > 50000.00": ("over_large_claim", "索赔金额 ¥86,000.00，超过大额赔案标准 ¥50,000.00"),
        "policy entered 2026-12-07, after the loss on 2026-10-28": ("cover_after_loss", "出险日期 2026-10-28"),
        "entered 2026-12-07, 75 days after the start 2026-09-23": ("late_entry", "共 75 天"),
        "customer on the watchlist": ("on_watchlist", "客户在观察名单上"),
        "customer entered VIP": ("entered_vip", "客户升为贵宾"),
        "a reviewer's own words": (None, "a reviewer's own words"),
    }
    try:
        upgrade(url, "0024_importzh")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO customers (id, customer_ref, name, id_number, birth_date, gender, phone, "
                    "city, source, created_at, updated_at) VALUES (1, 'C1', 'n', '110105197001010011', "
                    f"'1970-01-01', 'M', '13800000000', 'x', 'other', {stamp}, {stamp})"
                )
            )
            for i, detail in enumerate(old, start=1):
                conn.execute(
                    text(
                        "INSERT INTO policies (id, policy_no, customer_id, product_code, product_type, start_date, "
                        "end_date, term_years, payment_mode, annual_premium, status, created_at, updated_at) "
                        f"VALUES (:id, :no, 1, 'L', 'life', '2026-01-01', '2040-01-01', 10, 'annual', 100, "
                        f"'in_force', {stamp}, {stamp})"
                    ),
                    {"id": i, "no": f"P{i}"},
                )
                conn.execute(
                    text(
                        "INSERT INTO review_cases (id, queue, reason, detail, policy_id, customer_id, fast_track, "
                        "risk_score, priority, sla_days, due_on, settings_version, state, created_at, updated_at) "
                        "VALUES (:id, 'underwriting', 'late_entry', :detail, :id, 1, false, 0, 0, 5, '2026-02-08', "
                        f"'default', 'open', {stamp}, {stamp})"
                    ),
                    {"id": i, "detail": detail},
                )
        engine.dispose()
        upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, detail FROM review_cases ORDER BY id")).all()
        engine.dispose()
        app = create_app({"env": "test", "database_url": url})
        try:
            with app.app_context():
                from crm.models.review import ReviewCase

                with app.extensions["crm_db"].session() as s:
                    stored = {c.id: c for c in s.scalars(select(ReviewCase))}
                with app.test_request_context(), force_locale("zh"):
                    for i, (sentence, (code, chinese)) in enumerate(old.items(), start=1):
                        case = stored[i]
                        assert case.detail_code == code, sentence
                        assert chinese in case_why(case.detail_code, case.detail_params, case.detail), sentence
            # Read once: what it read leaves no English behind; what it could not read stays.
            assert [r.detail for r in rows] == [""] * 5 + ["a reviewer's own words"]
        finally:
            app.extensions["crm_db"].dispose()
        downgrade(url, "0024_importzh")  # the sentences come back
        engine = create_engine(url)
        with engine.connect() as conn:
            assert [r[0] for r in conn.execute(text("SELECT detail FROM review_cases ORDER BY id"))] == list(old)
        engine.dispose()
    finally:
        drop()
