"""CSV import: every rule has a failing row, all-or-nothing, re-import, references, CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.audit import Actor, verify
from crm.importer import ImportFailed, import_csv
from crm.models import AuditEvent, Claim, Customer, Policy
from tests.factories import claim_row, customer_row, policy_row, write_csv

ACTOR = Actor("system", "tests")


def count(database, model) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def run(database, kind, path, **kw):
    return import_csv(database, kind, path, ACTOR, **kw)


def problems_of(database, kind, path) -> list[str]:
    with pytest.raises(ImportFailed) as info:
        run(database, kind, path)
    return info.value.problems


def test_customers_import_and_derived_fields(database, tmp_path):
    rows = [customer_row(), customer_row(id_number="11010519491231002X", name="李娜")]
    summary = run(database, "customers", write_csv(tmp_path / "c.csv", rows, bom=True))
    assert (summary.rows, summary.created, summary.updated) == (2, 2, 0)
    with database.session() as s:
        li = s.scalar(select(Customer).where(Customer.name == "李娜"))
        assert li.birth_date.isoformat() == "1949-12-31"
        assert li.gender == "F"  # 17th digit 2 is even


CUSTOMER_CASES = [
    ({"id_number": "110105198005170011"}, "id_number", "check"),
    ({"id_number": "1101051980051700"}, "id_number", "18"),
    ({"id_number": "110105198002310019"}, "id_number", "date"),
    ({"phone": "12812345678"}, "phone", ""),
    ({"phone": "1381234567"}, "phone", ""),
    ({"source": "tv_ad"}, "source", ""),
    ({"name": ""}, "name", "required"),
    ({"city": ""}, "city", "required"),
    ({"referred_by": "C999999"}, "referred_by", "no customer C999999"),
    ({"account_manager": "ghost@test.crm"}, "account_manager", "ghost@test.crm"),
]


@pytest.mark.parametrize("override,column,fragment", CUSTOMER_CASES)
def test_each_customer_rule_names_row_and_column(database, tmp_path, override, column, fragment):
    rows = [customer_row(), customer_row(**override)]
    problems = problems_of(database, "customers", write_csv(tmp_path / "c.csv", rows))
    assert any(p.startswith(f"row 3, column {column}:") and fragment.lower() in p.lower() for p in problems), problems
    assert count(database, Customer) == 0


def test_duplicate_key_within_file(database, tmp_path):
    first = customer_row()
    rows = [first, customer_row(customer_ref=first["customer_ref"])]
    problems = problems_of(database, "customers", write_csv(tmp_path / "c.csv", rows))
    assert problems == [f"row 3, column customer_ref: {first['customer_ref']} appears again (first on row 2)"]


def test_header_unknown_and_missing_columns(database, tmp_path):
    row = customer_row()
    row["shoe_size"] = "42"
    del row["phone"]
    problems = problems_of(database, "customers", write_csv(tmp_path / "c.csv", [row]))
    assert "row 1, column shoe_size: unknown column" in problems[0]
    assert any(p.startswith("row 1, column phone: required column is missing") for p in problems)


def test_not_utf8_is_refused(database, tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"customer_ref,name\nC1," + "王".encode("gbk") + b"\n")
    problems = problems_of(database, "customers", path)
    assert "not UTF-8" in problems[0]


def test_referral_to_a_later_row_in_the_same_file(database, tmp_path):
    later = customer_row()
    earlier = customer_row(referred_by=later["customer_ref"], source="referral")
    run(database, "customers", write_csv(tmp_path / "c.csv", [earlier, later]))
    with database.session() as s:
        child = s.scalar(select(Customer).where(Customer.customer_ref == earlier["customer_ref"]))
        assert child.referred_by.customer_ref == later["customer_ref"]


def _seed_customer(database, tmp_path, **kw):
    row = customer_row(**kw)
    run(database, "customers", write_csv(tmp_path / "seed-c.csv", [row]))
    return row["customer_ref"]


POLICY_CASES = [
    ({"customer_ref": "C404404"}, "customer_ref", "no customer C404404"),
    ({"product_type": "pet"}, "product_type", ""),
    ({"payment_mode": "weekly"}, "payment_mode", ""),
    ({"status": "active"}, "status", ""),
    ({"start_date": "2022-13-01"}, "start_date", ""),
    ({"start_date": "01/02/2022"}, "start_date", ""),
    ({"end_date": "2021-12-31"}, "end_date", "after start_date"),
    ({"end_date": "2022-01-01"}, "end_date", "after start_date"),
    ({"annual_premium": "12000.123"}, "annual_premium", ""),
    ({"annual_premium": "-5"}, "annual_premium", ""),
    ({"annual_premium": "1e5"}, "annual_premium", ""),
    ({"term_years": "ten"}, "term_years", ""),
]


@pytest.mark.parametrize("override,column,fragment", POLICY_CASES)
def test_each_policy_rule_names_row_and_column(database, tmp_path, override, column, fragment):
    ref = _seed_customer(database, tmp_path)
    rows = [policy_row(ref), policy_row(**{"customer_ref": ref, **override})]
    problems = problems_of(database, "policies", write_csv(tmp_path / "p.csv", rows))
    assert any(p.startswith(f"row 3, column {column}:") and fragment.lower() in p.lower() for p in problems), problems
    assert count(database, Policy) == 0


CLAIM_CASES = [
    ({"policy_no": "P404"}, "policy_no", "no policy P404"),
    ({"report_date": "2024-02-28"}, "report_date", "not be before loss_date"),
    ({"status": "lost"}, "status", ""),
    ({"paid_amount": "abc"}, "paid_amount", ""),
    ({"reserve_amount": ""}, "reserve_amount", "required"),
    ({"fraud_suspected": "yes"}, "fraud_suspected", ""),
]


@pytest.mark.parametrize("override,column,fragment", CLAIM_CASES)
def test_each_claim_rule_names_row_and_column(database, tmp_path, override, column, fragment):
    ref = _seed_customer(database, tmp_path)
    policy = policy_row(ref)
    run(database, "policies", write_csv(tmp_path / "p.csv", [policy]))
    rows = [claim_row(policy["policy_no"]), claim_row(**{"policy_no": policy["policy_no"], **override})]
    problems = problems_of(database, "claims", write_csv(tmp_path / "l.csv", rows))
    assert any(p.startswith(f"row 3, column {column}:") and fragment.lower() in p.lower() for p in problems), problems
    assert count(database, Claim) == 0


def test_a_bad_row_deep_in_a_large_file_leaves_the_database_untouched(database, tmp_path):
    existing = customer_row(name="旧名字")
    run(database, "customers", write_csv(tmp_path / "first.csv", [existing]))
    events_before = count(database, AuditEvent)
    rows = [customer_row() for _ in range(5000)]
    rows.insert(0, dict(existing, name="新名字"))  # an update that must not happen either
    rows[4321]["phone"] = "999"
    problems = problems_of(database, "customers", write_csv(tmp_path / "big.csv", rows))
    assert problems == ["row 4323, column phone: " + problems[0].split(": ", 1)[1]]
    assert count(database, Customer) == 1
    assert count(database, AuditEvent) == events_before
    with database.session() as s:
        assert s.scalar(select(Customer.name)) == "旧名字"


def test_failure_during_the_write_pass_rolls_everything_back(database, tmp_path, monkeypatch):
    """A crash half-way through writing (here: an error after the first chunk) leaves nothing."""
    import crm.importer as importer

    calls = {"n": 0}
    real = importer._write_chunk

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "_write_chunk", crashing)
    rows = [customer_row() for _ in range(importer.CHUNK + 10)]
    with pytest.raises(RuntimeError):
        run(database, "customers", write_csv(tmp_path / "c.csv", rows))
    assert count(database, Customer) == 0
    assert count(database, AuditEvent) == 0


def test_reimport_updates_without_duplicating_and_is_audited(database, tmp_path):
    ref = _seed_customer(database, tmp_path)
    policy = policy_row(ref)
    run(database, "policies", write_csv(tmp_path / "p.csv", [policy]))
    changed = dict(policy, annual_premium="15000.00", status="lapsed", end_date="2024-06-01")
    summary = run(database, "policies", write_csv(tmp_path / "p2.csv", [changed, policy_row(ref)]))
    assert (summary.created, summary.updated, summary.unchanged) == (1, 1, 0)
    again = run(database, "policies", write_csv(tmp_path / "p3.csv", [changed]))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert count(database, Policy) == 2
    with database.session() as s:
        stored = s.scalar(select(Policy).where(Policy.policy_no == policy["policy_no"]))
        assert str(stored.annual_premium) == "15000.00" and stored.status == "lapsed"
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "policy.import_update"))
        assert '"annual_premium":"12000.00"' in event.before and '"annual_premium":"15000.00"' in event.after
        assert verify(s).ok


def test_dry_run_validates_but_writes_nothing(database, tmp_path):
    summary = run(database, "customers", write_csv(tmp_path / "c.csv", [customer_row()]), dry_run=True)
    assert summary.dry_run and summary.created == 1
    assert count(database, Customer) == 0


def test_audit_keeps_personal_data_masked(database, tmp_path):
    row = customer_row()
    run(database, "customers", write_csv(tmp_path / "c.csv", [row]))
    with database.session() as s:
        texts = " ".join(e.after or "" for e in s.scalars(select(AuditEvent)))
    assert row["id_number"] not in texts and row["phone"] not in texts


def test_cli_import_reports_problems_and_exits_1(runner, tmp_path):
    path = write_csv(tmp_path / "c.csv", [customer_row(phone="123")])
    result = runner.invoke(args=["import", "customers", str(path)])
    assert result.exit_code == 1
    assert "row 2, column phone:" in result.output
    ok = runner.invoke(args=["import", "customers", str(write_csv(tmp_path / "d.csv", [customer_row()]))])
    assert ok.exit_code == 0, ok.output
    assert "1 new" in ok.output
