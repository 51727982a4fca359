"""Builders for the workspace tests: a small portfolio of two managers, loaded through the importer."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from crm.audit import Actor
from crm.models import Customer
from tests.factories import claim_row, customer_row, policy_row, write_csv

ACTOR = Actor("system", "tests")
AS_OF = dt.date(2025, 6, 30)


def load(database, tmp_path, customers, policies=(), claims=()):
    """Import rows (all or nothing, as real files); returns {customer_ref: id}."""
    from tests.review_helpers import import_historical

    tag = len(list(tmp_path.iterdir()))
    import_historical(database, "customers", write_csv(tmp_path / f"c{tag}.csv", list(customers)))
    if policies:
        import_historical(database, "policies", write_csv(tmp_path / f"p{tag}.csv", list(policies)))
    if claims:
        import_historical(database, "claims", write_csv(tmp_path / f"l{tag}.csv", list(claims)))
    with database.session() as s:
        return {c.customer_ref: c.id for c in s.scalars(select(Customer))}


def set_tier(database, customer_id: int, tier: str, value: float = 50.0) -> None:
    with database.transaction() as s:
        s.execute(
            text(
                "INSERT INTO customer_tiers (customer_id, tier, reasons, computed_tier, computed_reasons, "
                "value_score, risk_score, updated_at) VALUES (:c, :t, '', :t, '', :v, 10, :now)"
            ),
            {"c": customer_id, "t": tier, "v": value, "now": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)},
        )


def two_portfolios(database, tmp_path, mine_email: str, other_email: str):
    """Two customers per manager with policies and claims of every kind the reports distinguish."""
    a = customer_row(name="甲客户", city="北京", account_manager=mine_email)
    b = customer_row(name="乙客户", city="上海", account_manager=mine_email)
    c = customer_row(name="丙客户", city="上海", account_manager=other_email)
    d = customer_row(name="丁客户", city="广州")
    pa = policy_row(
        a["customer_ref"], start_date="2025-02-01", end_date="2045-02-01", term_years="20", annual_premium="65540.00"
    )
    pb = policy_row(
        b["customer_ref"],
        product_type="health",
        product_code="HLT-1",
        start_date="2023-03-15",
        end_date="2026-03-15",
        term_years="1",
        payment_mode="single",
        annual_premium="3650.00",
    )
    pc = policy_row(
        c["customer_ref"],
        product_type="motor",
        product_code="MTR-1",
        start_date="2024-07-01",
        end_date="2025-07-01",
        term_years="1",
        payment_mode="annual",
        annual_premium="7300.50",
    )
    pd = policy_row(
        d["customer_ref"],
        start_date="2020-01-01",
        end_date="2040-01-01",
        term_years="20",
        annual_premium="12000.00",
        status="in_force",
    )
    claims = [
        claim_row(
            pa["policy_no"],
            loss_date="2025-05-01",
            report_date="2025-05-03",
            status="paid",
            claimed_amount="9000.00",
            reserve_amount="0.00",
            paid_amount="8800.00",
        ),
        claim_row(
            pb["policy_no"],
            loss_date="2025-06-01",
            report_date="2025-06-02",
            status="registered",
            claimed_amount="70000.00",
            reserve_amount="60000.00",
            paid_amount="0.00",
        ),
        claim_row(
            pb["policy_no"],
            loss_date="2024-01-01",
            report_date="2024-01-05",
            status="rejected",
            claimed_amount="500.00",
            reserve_amount="0.00",
            paid_amount="0.00",
        ),
        claim_row(
            pc["policy_no"],
            loss_date="2025-01-10",
            report_date="2025-01-11",
            status="under_review",
            claimed_amount="2000.00",
            reserve_amount="1500.25",
            paid_amount="0.00",
        ),
        claim_row(
            pd["policy_no"],
            loss_date="2021-01-10",
            report_date="2021-01-11",
            status="paid",
            claimed_amount="2000.00",
            reserve_amount="0.00",
            paid_amount="2000.00",
        ),
    ]
    ids = load(database, tmp_path, [a, b, c, d], [pa, pb, pc, pd], claims)
    return {
        "a": ids[a["customer_ref"]],
        "b": ids[b["customer_ref"]],
        "c": ids[c["customer_ref"]],
        "d": ids[d["customer_ref"]],
        "refs": {k: r["customer_ref"] for k, r in zip("abcd", (a, b, c, d))},
    }
