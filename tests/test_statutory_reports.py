"""`crm reports export pending_claims|premium`: the contract's columns, on a portfolio whose
answers were worked out by hand (a 29 February start, a policy ending on D, one starting on D,
claims reported on D and on each band's edges)."""

from __future__ import annotations

import csv
import datetime as dt

from sqlalchemy import text

from tests.factories import claim_row, customer_row, policy_row, write_csv

AS_OF = "2025-03-01"


def _portfolio(runner, database, tmp_path) -> None:
    a, b = customer_row(), customer_row()
    life = policy_row(a["customer_ref"], start_date="2024-02-29", end_date="2044-02-29", annual_premium="3650.00")
    ends_on_d = policy_row(
        a["customer_ref"],
        product_type="health",
        product_code="HLT-1",
        start_date="2024-06-15",
        end_date=AS_OF,
        term_years="1",
        annual_premium="7300.00",
        status="lapsed",
    )
    starts_on_d = policy_row(
        b["customer_ref"],
        product_type="health",
        product_code="HLT-1",
        start_date=AS_OF,
        end_date="2026-03-01",
        term_years="1",
        annual_premium="365.00",
    )
    later = policy_row(
        b["customer_ref"],
        product_type="health",
        product_code="HLT-1",
        start_date="2025-03-02",
        end_date="2026-03-02",
        term_years="1",
        annual_premium="1000.00",
    )
    short = policy_row(
        b["customer_ref"],
        product_type="accident",
        product_code="ACC-1",
        start_date="2023-09-10",
        end_date="2025-06-30",
        term_years="2",
        annual_premium="1000.00",
    )
    voided = policy_row(b["customer_ref"], start_date="2024-01-01", end_date="2044-01-01", annual_premium="9999.00")
    life_no, acc_no = life["policy_no"], short["policy_no"]

    def claim(policy_no, reported, status, reserve, loss="2025-01-01"):
        return claim_row(
            policy_no,
            loss_date=min(loss, reported),
            report_date=reported,
            status=status,
            claimed_amount="1000.00",
            reserve_amount=reserve,
            paid_amount="900.00" if status == "paid" else "0.00",
        )

    claims = [
        claim(life_no, AS_OF, "reported", "100.00"),  # 0 days
        claim(life_no, "2025-01-30", "registered", "200.50"),  # 30 days: still 0-30
        claim(life_no, "2025-01-29", "under_review", "300.00"),  # 31 days
        claim(acc_no, "2024-09-02", "reported", "25.00", loss="2024-08-30"),  # 180 days
        claim(acc_no, "2024-09-01", "approved", "50.00", loss="2024-08-30"),  # 181 days
        claim(life_no, "2025-02-01", "paid", "0.00"),  # closed
        claim(life_no, "2025-02-01", "rejected", "40.00"),  # closed
        claim(life_no, "2025-03-02", "reported", "70.00"),  # reported after D
        claim(voided["policy_no"], "2025-02-01", "reported", "80.00", loss="2024-06-01"),  # its policy is voided
    ]
    for kind, rows in (
        ("customers", [a, b]),
        ("policies", [life, ends_on_d, starts_on_d, later, short, voided]),
        ("claims", claims),
    ):
        result = runner.invoke(args=["import", kind, str(write_csv(tmp_path / f"{kind}.csv", rows))])
        assert result.exit_code == 0, result.output
    with database.engine.begin() as conn:
        conn.execute(
            text("UPDATE policies SET voided_at = :now, void_reason = 'entered twice' WHERE policy_no = :no"),
            {"now": dt.datetime(2025, 2, 1), "no": voided["policy_no"]},
        )


def _export(runner, tmp_path, name: str, as_of: str = AS_OF) -> list[dict]:
    out = tmp_path / f"{name}.csv"
    result = runner.invoke(args=["reports", "export", name, str(out), "--as-of", as_of])
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    return reader.fieldnames, rows


def test_pending_claims_by_product_and_band(runner, database, tmp_path):
    _portfolio(runner, database, tmp_path)
    columns, rows = _export(runner, tmp_path, "pending_claims")
    assert columns == ["product_type", "age_band", "claims", "reserve"]
    assert len(rows) == 7 * 4 and [r["age_band"] for r in rows[:4]] == ["0-30", "31-90", "91-180", "181+"]
    nonzero = {(r["product_type"], r["age_band"]): (r["claims"], r["reserve"]) for r in rows if r["claims"] != "0"}
    assert nonzero == {
        ("life", "0-30"): ("2", "300.50"),
        ("life", "31-90"): ("1", "300.00"),
        ("accident", "91-180"): ("1", "25.00"),
        ("accident", "181+"): ("1", "50.00"),
    }
    assert all(r["reserve"] == "0.00" for r in rows if r["claims"] == "0")


def test_premium_in_force_earned_and_unearned(runner, database, tmp_path):
    _portfolio(runner, database, tmp_path)
    columns, rows = _export(runner, tmp_path, "premium")
    assert columns == [
        "product_type",
        "policies_in_force",
        "annual_premium_in_force",
        "earned_premium_ytd",
        "unearned_premium",
    ]
    by_type = {r["product_type"]: [r[c] for c in columns[1:]] for r in rows}
    # life, from 29 Feb 2024: 60 days earned this year; its policy year ends on 28 Feb 2026: 363 days unearned.
    assert by_type["life"] == ["1", "3650.00", "600.00", "3630.00"]
    # health: the lapsed policy ending on D earned 59 days and is not in force; the new one 1 day, 364 left.
    assert by_type["health"] == ["1", "365.00", "1181.00", "364.00"]
    # accident: the policy year would end 10 Sep 2025, the cover on 30 Jun 2025: 120 days left.
    assert by_type["accident"] == ["1", "1000.00", "164.38", "328.77"]
    assert by_type["motor"] == ["0", "0.00", "0.00", "0.00"]


def test_premium_on_the_day_before_a_29_february_anniversary(runner, database, tmp_path):
    _portfolio(runner, database, tmp_path)
    _, rows = _export(runner, tmp_path, "premium", as_of="2025-02-27")
    life = next(r for r in rows if r["product_type"] == "life")
    # The policy year from 29 Feb 2024 ends on 28 Feb 2025 (no 29 February that year): nothing left after D.
    assert [life["earned_premium_ytd"], life["unearned_premium"]] == ["580.00", "0.00"]


def test_a_bad_date_or_report_name_is_refused(runner, tmp_path):
    bad_date = runner.invoke(args=["reports", "export", "premium", str(tmp_path / "p.csv"), "--as-of", "2025-02-30"])
    assert bad_date.exit_code != 0 and "not a date" in bad_date.output
    unknown = runner.invoke(args=["reports", "export", "loss_ratio", str(tmp_path / "l.csv")])
    assert unknown.exit_code != 0
