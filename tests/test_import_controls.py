"""The importer refuses control characters, never logs or prints a row's personal data when the
database refuses it, and a re-import changes only the columns its file has (issue 19, items 4
and 5), on both databases."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import func, select, text

from crm.audit import verify
from crm.models import AuditEvent, Customer
from tests.conftest import csrf_token
from tests.factories import customer_row, write_csv
from tests.pii_scan import find_personal_data

REQUIRED = ["customer_ref", "name", "id_number", "phone", "city", "source"]


def _count(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(Customer))


def _logged(caplog) -> str:
    """Every log line and traceback the test produced."""
    return "\n".join(
        r.getMessage() + (caplog.handler.formatter or logging.Formatter()).formatException(r.exc_info)
        if r.exc_info
        else r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize(
    "column,value",
    [("city", "北\x00京"), ("name", "王\x1b[31m"), ("id_number", "\x00"), ("account_manager", "a\x7f@test.crm")],
)
def test_a_control_character_is_refused_with_row_and_column(runner, database, tmp_path, caplog, column, value):
    caplog.set_level(logging.DEBUG)
    rows = [customer_row(city="Bei\tjing"), customer_row(**{column: value})]  # a tab is allowed
    path = write_csv(tmp_path / "c.csv", rows)
    for args in (["--dry-run"], []):
        result = runner.invoke(args=["import", "customers", str(path), *args])
        assert result.exit_code == 1, result.output
        assert f"row 3, column {column}: contains a control character (U+00" in result.output
        assert "row 2" not in result.output
        assert not find_personal_data(result.output + _logged(caplog))
    assert _count(database) == 0


def _upload_and_run(client, app, database, name: str, body: bytes) -> str:
    """Upload a file, let the scheduler's job import it, and return its page."""
    from crm.jobs import scheduler

    response = client.post(
        "/admin/import",
        data={"csrf_token": csrf_token(client, "/admin/import"), "kind": "customers", "file": (io.BytesIO(body), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with app.app_context():  # as in `crm scheduler run`
        scheduler.queued_imports(database, app.config["CRM_SETTINGS"])
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_upload_page_refuses_a_nul_in_chinese_too(app, client, login_as, database, tmp_path):
    login_as("admin", locale="zh")
    body = write_csv(tmp_path / "c.csv", [customer_row(city="上\x00海")]).read_bytes()
    page = _upload_and_run(client, app, database, "c.csv", body)
    assert "第 2 行，city 列：含有控制字符（U+0000）" in page
    assert _count(database) == 0


@pytest.fixture
def refusing_city(database):
    """A database that refuses a customer in the city 'Boom' (a trigger), as a real one may refuse a row."""
    with database.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER boom BEFORE INSERT ON customers WHEN NEW.city = 'Boom' "
                    "BEGIN SELECT RAISE(ABORT, 'boom'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.city = 'Boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(text("CREATE TRIGGER boom BEFORE INSERT ON customers FOR EACH ROW EXECUTE FUNCTION boom()"))
    yield
    with database.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER boom" if conn.dialect.name == "sqlite" else "DROP TRIGGER boom ON customers"))
        if conn.dialect.name != "sqlite":
            conn.execute(text("DROP FUNCTION boom()"))


def test_a_refusal_of_the_database_logs_the_error_type_and_keys_only(runner, database, tmp_path, caplog, refusing_city):
    caplog.set_level(logging.DEBUG)
    rows = [customer_row(), customer_row(city="Boom")]
    result = runner.invoke(args=["import", "customers", str(write_csv(tmp_path / "c.csv", rows))])
    assert result.exit_code == 1
    assert (
        f"row -, column -: the database refused rows 2 to 3 (customer_ref {rows[0]['customer_ref']} to "
        f"{rows[1]['customer_ref']}): "
    ) in result.output
    logged = _logged(caplog)
    assert "refused by the database" in logged and rows[1]["customer_ref"] in logged
    for row in rows:
        for field in ("id_number", "phone", "name"):
            assert row[field] not in result.output + logged
    assert "Traceback" not in result.output + logged and len(result.output.splitlines()) <= 3
    assert _count(database) == 0


def _stored(database) -> dict[str, tuple]:
    with database.session() as s:
        return {
            c.customer_ref: (
                c.city,
                c.account_manager.email if c.account_manager else None,
                c.referred_by.customer_ref if c.referred_by else None,
            )
            for c in s.scalars(select(Customer))
        }


def test_a_partial_reimport_leaves_absent_columns_alone(runner, database, make_user, tmp_path):
    _, manager = make_user("account_manager")
    referrer = customer_row()
    rows = [referrer] + [
        customer_row(account_manager=manager, referred_by=referrer["customer_ref"], source="referral") for _ in range(3)
    ]
    assert runner.invoke(args=["import", "customers", str(write_csv(tmp_path / "a.csv", rows))]).exit_code == 0

    moved = [dict(r, city="上海") if i in (1, 2) else r for i, r in enumerate(rows)]
    result = runner.invoke(args=["import", "customers", str(write_csv(tmp_path / "b.csv", moved, REQUIRED))])
    assert result.exit_code == 0, result.output
    assert "updated 2 rows: city 2" in result.output
    stored = _stored(database)
    assert [stored[r["customer_ref"]] for r in rows[1:]] == [
        ("上海", manager, referrer["customer_ref"]),
        ("上海", manager, referrer["customer_ref"]),
        ("北京", manager, referrer["customer_ref"]),
    ]

    # An empty cell in a present optional column clears that field, and only that one.
    cleared = [dict(r, account_manager="") if i == 3 else r for i, r in enumerate(moved)]
    result = runner.invoke(
        args=["import", "customers", str(write_csv(tmp_path / "c.csv", cleared, REQUIRED + ["account_manager"]))]
    )
    assert result.exit_code == 0, result.output
    assert "updated 1 row: account_manager 1" in result.output
    stored = _stored(database)
    assert stored[rows[3]["customer_ref"]] == ("北京", None, referrer["customer_ref"])
    assert stored[rows[1]["customer_ref"]] == ("上海", manager, referrer["customer_ref"])
    with database.session() as s:
        assert verify(s).ok
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "customer.import_update").order_by(AuditEvent.seq.desc())
        ).first()
        assert '"referred_by_id":' in event.after and '"referred_by_id":null' not in event.after


def test_the_upload_page_says_which_fields_changed(app, client, login_as, database, tmp_path):
    login_as("admin", locale="zh")
    rows = [customer_row(), customer_row()]
    for name, data in (("a.csv", rows), ("b.csv", [dict(rows[0], city="上海"), rows[1]])):
        page = _upload_and_run(client, app, database, name, write_csv(tmp_path / name, data, REQUIRED).read_bytes())
    assert '<span id="import-changes">更新 1 行：city 1</span>' in page


def test_a_database_error_never_lists_the_rows_values(database, tmp_path):
    from sqlalchemy.exc import IntegrityError

    from crm.importer import import_csv
    from tests.workspace_helpers import ACTOR

    row = customer_row()
    import_csv(database, "customers", write_csv(tmp_path / "c.csv", [row]), ACTOR)
    with pytest.raises(IntegrityError) as info, database.transaction() as s:
        s.execute(
            text(
                "INSERT INTO customers (customer_ref, name, id_number, birth_date, gender, phone, city, source, "
                "created_at, updated_at) VALUES (:ref, :name, :id, '1960-01-01', 'M', :phone, 'x', 'other', "
                "'2025-01-01', '2025-01-01')"
            ),
            {"ref": row["customer_ref"], "name": "王小明", "id": row["id_number"], "phone": row["phone"]},
        )
    assert row["id_number"] not in str(info.value) and row["phone"] not in str(info.value)
