"""Test data builders: valid CSV rows by default, with any field overridden."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from crm.validators import make_id_number

_counter = {"n": 0}


def _next() -> int:
    _counter["n"] += 1
    return _counter["n"]


def customer_row(**overrides) -> dict:
    n = _next()
    row = {
        "customer_ref": f"C{n:06d}",
        "name": "王小明",
        "id_number": make_id_number("110105", dt.date(1960, 1, 1) + dt.timedelta(days=n // 500), n % 500, "M"),
        "phone": f"138{n:08d}",
        "city": "北京",
        "source": "cold_visit",
        "referred_by": "",
        "account_manager": "",
    }
    row.update(overrides)
    return row


def policy_row(customer_ref: str, **overrides) -> dict:
    n = _next()
    row = {
        "policy_no": f"P{n:07d}",
        "customer_ref": customer_ref,
        "product_code": "LIFE-20",
        "product_type": "life",
        "start_date": "2022-01-01",
        "end_date": "2042-01-01",
        "term_years": "20",
        "payment_mode": "annual",
        "annual_premium": "12000.00",
        "status": "in_force",
    }
    row.update(overrides)
    return row


def claim_row(policy_no: str, **overrides) -> dict:
    n = _next()
    row = {
        "claim_no": f"L{n:07d}",
        "policy_no": policy_no,
        "loss_date": "2024-03-01",
        "report_date": "2024-03-05",
        "status": "paid",
        "claimed_amount": "5000.00",
        "reserve_amount": "0.00",
        "paid_amount": "4800.00",
        "fraud_suspected": "0",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None, bom: bool = False) -> Path:
    columns = columns or list(rows[0])
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path
