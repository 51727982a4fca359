"""The versioned data export for the regulator's data interface and the data warehouse.

`crm export data DIR` (or the admin page) writes, into DIR:

- ``customers.csv`` (personal data masked: name, ID number and phone; birth year only;
  ``list_level``: ``none``, ``grey`` — on the watchlist the tier rules compute — or ``black``,
  on the black list),
  ``policies.csv``, ``claims.csv``, ``tiers.csv``, ``review_decisions.csv`` and
  ``review_cases.csv`` (every case, its columns fixed by the contract);
- ``<file>.schema.json`` for each: a JSON Schema (draft 2020-12) of one row, every value a
  string as written in the CSV; the order of ``properties`` is the column order;
- ``manifest.json``: format, version, generated_at (UTC), and per file its row count and
  SHA-256 (of the CSV and of its schema);
- ``README.md``: this description.

CSV: UTF-8, comma-separated, a header row, dates YYYY-MM-DD, money with 2 decimals, flags 0/1,
empty for a missing value; a text cell that begins with =, +, -, @, a tab or a carriage return
is written with a leading ' so that no spreadsheet runs it as a formula (numbers stay numbers).
``VERSION`` changes (major) when a column is removed or changes meaning, (minor) when a column
or file is added.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, text

from crm import csvout
from crm.db import utcnow
from crm.validators import mask_id_number, mask_phone

VERSION = "1.2"  # 1.1: review_cases.csv; 1.2: customers.csv's list_level
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
DATE_OR_EMPTY = {"type": "string", "pattern": r"^(\d{4}-\d{2}-\d{2})?$"}
MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$"}
SCORE = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
INT = {"type": "string", "pattern": r"^-?\d+$"}
INT_OR_EMPTY = {"type": "string", "pattern": r"^(-?\d+)?$"}
TEXT = {"type": "string"}
FLAG = {"type": "string", "enum": ["0", "1"]}
TIMESTAMP = {"type": "string", "format": "date-time"}


def _enum(*values: str) -> dict:
    return {"type": "string", "enum": list(values)}


# file → (SQL, {column: schema}); the SQL's columns are the CSV's, in order.
FILES = {
    "customers": (
        """SELECT c.customer_ref, c.name, c.id_number, c.phone, c.birth_date, c.gender, c.city, c.source,
                  r.customer_ref AS referred_by, c.account_manager_id,
                  CASE WHEN EXISTS (SELECT 1 FROM blacklist_entries b
                                    WHERE b.customer_id = c.id AND b.status = 'active') THEN 'black'
                       WHEN t.tier = 'watchlist' THEN 'grey' ELSE 'none' END AS list_level
           FROM customers c LEFT JOIN customers r ON r.id = c.referred_by_id
           LEFT JOIN customer_tiers t ON t.customer_id = c.id ORDER BY c.id""",
        {
            "customer_ref": TEXT,
            "name_masked": TEXT,
            "id_number_masked": TEXT,
            "phone_masked": TEXT,
            "birth_year": INT,
            "gender": _enum("M", "F"),
            "city": TEXT,
            "source": _enum("referral", "cold_visit", "community_event", "agent", "online", "other"),
            "referred_by": TEXT,
            "account_manager_id": INT_OR_EMPTY,
            # grey: on the watchlist the tier rules compute; black: on the black list (two people's word)
            "list_level": _enum("none", "grey", "black"),
        },
    ),
    "policies": (
        """SELECT p.policy_no, c.customer_ref, p.product_code, p.product_type, p.start_date, p.end_date,
                           p.term_years, p.payment_mode, p.annual_premium, p.status
                    FROM policies p JOIN customers c ON c.id = p.customer_id ORDER BY p.id""",
        {
            "policy_no": TEXT,
            "customer_ref": TEXT,
            "product_code": TEXT,
            "product_type": _enum("life", "health", "critical_illness", "accident", "property", "motor", "travel"),
            "start_date": DATE,
            "end_date": DATE,
            "term_years": INT,
            "payment_mode": _enum("single", "annual", "semiannual", "quarterly", "monthly"),
            "annual_premium": MONEY,
            "status": _enum("in_force", "lapsed", "cancelled", "matured"),
        },
    ),
    "claims": (
        """SELECT l.claim_no, p.policy_no, c.customer_ref, l.loss_date, l.report_date, l.status,
                         l.claimed_amount, l.reserve_amount, l.paid_amount, l.fraud_suspected
                  FROM claims l JOIN policies p ON p.id = l.policy_id JOIN customers c ON c.id = l.customer_id
                  ORDER BY l.id""",
        {
            "claim_no": TEXT,
            "policy_no": TEXT,
            "customer_ref": TEXT,
            "loss_date": DATE,
            "report_date": DATE,
            "status": _enum("reported", "registered", "under_review", "approved", "paid", "rejected", "withdrawn"),
            "claimed_amount": MONEY,
            "reserve_amount": MONEY,
            "paid_amount": MONEY,
            "fraud_suspected": FLAG,
        },
    ),
    "tiers": (
        """SELECT c.customer_ref, t.tier, t.value_score, t.risk_score, t.reasons, t.as_of, t.run_id
                 FROM customer_tiers t JOIN customers c ON c.id = t.customer_id ORDER BY t.customer_id""",
        {
            "customer_ref": TEXT,
            "tier": _enum("vip", "standard", "watchlist"),
            "value_score": SCORE,
            "risk_score": SCORE,
            "reasons": TEXT,
            "as_of": DATE_OR_EMPTY,
            "run_id": INT_OR_EMPTY,
        },
    ),
    "review_decisions": (
        """SELECT r.id, r.queue, r.reason, p.policy_no, l.claim_no, c.customer_ref, r.state,
                                   r.decision, r.decision_reason, r.decided_at, r.due_on
                            FROM review_cases r JOIN customers c ON c.id = r.customer_id
                            LEFT JOIN policies p ON p.id = r.policy_id LEFT JOIN claims l ON l.id = r.claim_id
                            WHERE r.decision IS NOT NULL ORDER BY r.id""",
        {
            "case_id": INT,
            "queue": _enum("underwriting", "claims"),
            "reason": TEXT,
            "policy_no": TEXT,
            "claim_no": TEXT,
            "customer_ref": TEXT,
            "state": TEXT,
            "decision": _enum("approved", "rejected"),
            "decision_reason": TEXT,
            "decided_at": TIMESTAMP,
            "due_on": DATE,
        },
    ),
    "review_cases": (
        """SELECT r.id, r.queue, r.reason, CASE WHEN r.claim_id IS NULL THEN 'policy' ELSE 'claim' END,
                  COALESCE(l.claim_no, p.policy_no), c.customer_ref, r.state, r.decision, r.fast_track,
                  r.created_at, r.due_on
           FROM review_cases r JOIN customers c ON c.id = r.customer_id
           LEFT JOIN policies p ON p.id = r.policy_id LEFT JOIN claims l ON l.id = r.claim_id ORDER BY r.id""",
        {
            "case_id": INT,
            "queue": _enum("underwriting", "claims"),
            "reason": TEXT,
            "subject_type": _enum("policy", "claim"),
            "subject_ref": TEXT,
            "customer_ref": TEXT,
            "state": _enum("open", "in_review", "escalated", "approved", "rejected", "closed"),
            "decision": {"type": "string", "enum": ["", "approved", "rejected"]},
            "fast_track": FLAG,
            "opened_at": TIMESTAMP,
            "due_on": DATE,
        },
    ),
}


def _mask_name(name: str) -> str:
    """The family name only (王**): enough to recognise a record, not a person."""
    return name[:1] + "*" * max(len(name) - 1, 1)


def _cell(value):
    """Dates as text (SQLite hands them back as text already); numbers stay numbers for the writer."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return 1 if value else 0
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _decimal(value):
    # SQLite hands back numbers (12000 or 4800.5), PostgreSQL Decimals: one number for both.
    return "" if value is None else Decimal(f"{Decimal(str(value)):.2f}")


def _timestamp(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # SQLite: naive UTC text
        value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _formatters(columns: dict) -> list:
    return [
        _decimal if kind in (MONEY, SCORE) else _timestamp if kind is TIMESTAMP else _cell for kind in columns.values()
    ]


def _rows(conn: Connection, name: str, sql: str, columns: dict):
    formats = _formatters(columns)
    for row in conn.execute(text(sql).execution_options(stream_results=True, max_row_buffer=10_000)):
        values = [fmt(v) for fmt, v in zip(formats, row)]
        if name == "customers":  # mask at the source: the full values never reach the file
            values[1], values[2], values[3] = _mask_name(values[1]), mask_id_number(values[2]), mask_phone(values[3])
            values[4] = int(values[4][:4])
        yield values


def schema(name: str) -> dict:
    """The JSON Schema (draft 2020-12) of one row of ``name``.csv."""
    columns = FILES[name][1]
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:crm:export:{VERSION}:{name}",
        "title": f"{name}.csv row",
        "description": f"One row of {name}.csv (export version {VERSION}); every value is the CSV text.",
        "type": "object",
        "properties": columns,
        "required": list(columns),
        "additionalProperties": False,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_data(conn: Connection, out_dir: Path) -> dict:
    """Write every file, its schema, the manifest and the README into ``out_dir``; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for name, (sql, columns) in FILES.items():
        path, schema_path = out_dir / f"{name}.csv", out_dir / f"{name}.schema.json"
        n = 0
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csvout.writer(f)
            writer.writerow(list(columns))
            for values in _rows(conn, name, sql, columns):
                writer.writerow(values)
                n += 1
        schema_path.write_text(json.dumps(schema(name), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        files.append(
            {
                "name": path.name,
                "schema": schema_path.name,
                "rows": n,
                "sha256": _sha256(path),
                "schema_sha256": _sha256(schema_path),
            }
        )
    manifest = {
        "format": "insurance-crm-data-export",
        "version": VERSION,
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "files": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(__doc__.strip() + "\n", encoding="utf-8")
    return manifest
