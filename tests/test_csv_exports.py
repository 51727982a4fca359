"""Every CSV the product writes is safe to open in a spreadsheet (no text cell starts a formula,
numbers stay numbers), and every CSV download is never cached (issue 19, items 3 and 15)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

from sqlalchemy import select

from crm import csvout
from crm.workspace.snapshots import take_snapshot
from partners.models import Coupon, Redemption
from tests.clock_helpers import business_today
from tests.conftest import csrf_token
from tests.factories import customer_row, policy_row
from tests.partners_helpers import issue, make_partner
from tests.workspace_helpers import ACTOR, AS_OF, load, set_tier

EVIL = "=cmd|' /C calc'!A0"
ESCAPED = "'" + EVIL


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _portfolio(database, tmp_path):
    """A customer whose reference and city are formulas, with a policy and a negative score."""
    customer = customer_row(customer_ref="=1+2", city=EVIL)
    ids = load(database, tmp_path, [customer], [policy_row("=1+2", start_date="2024-01-01", end_date="2044-01-01")])
    set_tier(database, ids["=1+2"], "standard", value=-12.5)
    return ids["=1+2"]


def test_cell_escapes_text_and_keeps_numbers():
    assert [csvout.cell(v) for v in (EVIL, "+86", "-x", "@SUM(A1)", "\tx", "\rx", "王", "a=b")] == [
        ESCAPED,
        "'+86",
        "'-x",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "王",
        "a=b",
    ]
    assert [csvout.cell(v) for v in (Decimal("-12.50"), -3, -0.5, True, None, dt.date(2025, 1, 2))] == [
        "-12.50",
        "-3",
        "-0.5",
        "1",
        "",
        "2025-01-02",
    ]
    assert csvout.cell("-12.50") == "'-12.50"  # text that looks like a number is still text
    assert csvout.two_decimals(12000) == Decimal("12000.00") and csvout.two_decimals(4800.5) == Decimal("4800.50")


def test_data_export_and_tiers_export_escape_text(runner, database, tmp_path):
    _portfolio(database, tmp_path)
    out = tmp_path / "export"
    assert runner.invoke(args=["export", "data", str(out)]).exit_code == 0
    customers = list(csv.DictReader(open(out / "customers.csv", newline="", encoding="utf-8")))
    assert customers[0]["city"] == ESCAPED and customers[0]["customer_ref"] == "'=1+2"
    policies = list(csv.DictReader(open(out / "policies.csv", newline="", encoding="utf-8")))
    assert policies[0]["annual_premium"] == "12000.00" and policies[0]["customer_ref"] == "'=1+2"
    tiers = list(csv.DictReader(open(out / "tiers.csv", newline="", encoding="utf-8")))
    assert tiers[0]["value_score"] == "-12.50"  # a negative number is a number, not text

    path = tmp_path / "tiers.csv"
    result = runner.invoke(args=["tiers", "export", str(path)])
    assert result.exit_code == 0, result.output
    rows = _rows(path.read_text(encoding="utf-8"))
    assert rows[1][:4] == ["'=1+2", "standard", "-12.50", "10.00"]


def test_report_csv_escapes_text_and_is_not_cached(client, login_as, database, tmp_path):
    login_as("risk_officer")
    _portfolio(database, tmp_path)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    response = client.get("/reports/loss_ratio_city.csv")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    rows = _rows(response.get_data(as_text=True))
    assert rows[1][0] == ESCAPED
    assert rows[1][2] not in ("", None) and "." in rows[1][2] and len(rows[1][2].split(".")[1]) == 2  # money
    for report in ("loss_ratio_tier", "pending_claims", "premium", "benefits"):
        assert client.get(f"/reports/{report}.csv").headers["Cache-Control"] == "no-store"


def test_export_download_is_not_cached(client, login_as, database, tmp_path):
    login_as("admin")
    _portfolio(database, tmp_path)
    response = client.post("/workspace/export", data={"csrf_token": csrf_token(client, "/workspace/export")})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        customers = list(csv.DictReader(io.StringIO(archive.read("customers.csv").decode("utf-8"))))
    assert customers[0]["city"] == ESCAPED


def test_settlement_csv_escapes_text_and_is_not_cached(client, login_as, database):
    login_as("admin")
    partner_id, _key = make_partner(database)
    from tests.partners_helpers import make_customer

    code = issue(database, make_customer(database), partner_id)
    with database.transaction() as s:
        coupon_id = s.execute(select(Coupon.id).where(Coupon.code == code)).scalar_one()
        s.add(
            Redemption(
                coupon_id=coupon_id,
                live_coupon_id=coupon_id,
                partner_id=partner_id,
                store_id="@SUM(1+1)*cmd",
                amount=Decimal("100.00"),
            )
        )
    today = business_today()
    response = client.get(
        f"/merchant/settlement?partner={partner_id}&start={today - dt.timedelta(days=1)}"
        f"&end={today + dt.timedelta(days=1)}&format=csv"
    )
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    rows = _rows(response.get_data(as_text=True))
    assert rows[1][2] == "'@SUM(1+1)*cmd" and rows[1][4] == "100.00"
    assert rows[-1][:6] == ["total", "", "", "", "100.00", "100.00"]
