"""The versioned data export: schemas describe the CSV exactly, personal data is masked, the
manifest's counts and checksums are right; admin-only and audited in the UI."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import jsonschema
from sqlalchemy import select

from crm.models import AuditEvent
from tests.conftest import csrf_token
from tests.workspace_helpers import two_portfolios


def test_export_command_writes_valid_files(runner, database, make_user, tmp_path):
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    two_portfolios(database, tmp_path, mine, other)
    out = tmp_path / "export"
    result = runner.invoke(args=["export", "data", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == "1.2" and manifest["generated_at"]
    rows = {}
    for entry in manifest["files"]:
        path, schema = out / entry["name"], json.loads((out / entry["schema"]).read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            assert reader.fieldnames == list(schema["properties"])  # the header is the schema's column order
            data = list(reader)
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        for row in data:
            validator.validate(row)
        assert len(data) == entry["rows"]
        rows[entry["name"]] = data
    assert [len(rows[f"{n}.csv"]) for n in ("customers", "policies", "claims")] == [4, 4, 5]
    text = (out / "customers.csv").read_text(encoding="utf-8")
    assert "甲客户" not in text and "甲**" in text  # the name, ID number and phone are masked
    for row in rows["customers.csv"]:
        assert "****" in row["phone_masked"] and "********" in row["id_number_masked"]
        assert len(row["birth_year"]) == 4
    assert {r["annual_premium"] for r in rows["policies.csv"]} >= {"65540.00", "7300.50"}
    # review_cases.csv: the contract's columns, every case (the 70,000 claim is a large claim)
    with open(out / "review_cases.csv", newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == [
        "case_id",
        "queue",
        "reason",
        "subject_type",
        "subject_ref",
        "customer_ref",
        "state",
        "decision",
        "fast_track",
        "opened_at",
        "due_on",
    ]
    large = [r for r in rows["review_cases.csv"] if r["reason"] == "large_claim"]
    assert large and all(r["queue"] == "claims" and r["subject_type"] == "claim" for r in large)
    assert {r["subject_ref"] for r in large} <= {r["claim_no"] for r in rows["claims.csv"]}
    assert all(
        r["fast_track"] in ("0", "1") and r["decision"] in ("", "approved", "rejected")
        for r in rows["review_cases.csv"]
    )
    assert (out / "README.md").read_text().startswith("The versioned data export")
    with database.session() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "data.export")) is not None
    snapshot = runner.invoke(args=["workspace", "snapshot", "--as-of", "2025-06-30"])
    assert snapshot.exit_code == 0 and "as of 2025-06-30" in snapshot.output
    assert runner.invoke(args=["workspace", "snapshot", "--as-of", "30/06/2025"]).exit_code != 0


def test_export_download_is_admin_only_and_audited(client, login_as, database, make_user, tmp_path):
    login_as("admin")
    _, mine = make_user("account_manager")
    two_portfolios(database, tmp_path, mine, mine)
    response = client.post("/workspace/export", data={"csrf_token": csrf_token(client, "/workspace/export")})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert {"manifest.json", "customers.csv", "customers.schema.json", "review_decisions.csv"} <= set(names)
    with database.session() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "data.export"))
        assert event.actor_role == "admin" and "customers.csv" in event.after
