"""Dates must make sense, at import and at entry (CONTRACT.md): a loss inside its policy's
cover, a report on or after the loss, no claim date after today, no reserve on a paid claim —
each a `row N, column C` (or field) message, and nothing imported."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from crm.models import Claim
from tests.conftest import csrf_token
from tests.factories import claim_row, customer_row, policy_row, write_csv
from tests.review_helpers import insurer_today


def _policy(runner, tmp_path) -> dict:
    cust = customer_row()
    pol = policy_row(cust["customer_ref"], start_date="2022-01-01", end_date="2042-01-01")
    for kind, rows in (("customers", [cust]), ("policies", [pol])):
        assert runner.invoke(args=["import", kind, str(write_csv(tmp_path / f"{kind}.csv", rows))]).exit_code == 0
    return pol


def _claims_in_db(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(Claim))


TOMORROW = "tomorrow"  # resolved when the test runs, not at collection: a run may cross midnight
BAD = [
    ({"loss_date": "2021-12-31", "report_date": "2022-01-03"}, "loss_date", "cover"),  # before the start
    ({"loss_date": "2042-01-01", "report_date": "2042-01-02"}, "loss_date", "cover"),  # on the end date
    ({"loss_date": "2024-03-01", "report_date": "2024-02-28"}, "report_date", "loss_date"),
    ({"loss_date": "2024-03-01", "report_date": TOMORROW}, "report_date", "today"),
    ({"status": "paid", "reserve_amount": "10.00", "paid_amount": "100.00"}, "reserve_amount", "paid"),
]


@pytest.mark.parametrize(
    ("fields", "column", "word"),
    BAD,
    ids=["before-cover", "end-date", "report-before-loss", "future", "paid-with-reserve"],
)
def test_a_claim_whose_dates_do_not_fit_is_refused(runner, database, tmp_path, fields, column, word):
    pol = _policy(runner, tmp_path)
    good = claim_row(pol["policy_no"])
    tomorrow = (insurer_today() + dt.timedelta(days=1)).isoformat()
    bad = claim_row(pol["policy_no"], **{k: tomorrow if v == TOMORROW else v for k, v in fields.items()})
    path = write_csv(tmp_path / "claims.csv", [good, bad])
    for dry in ([], ["--dry-run"]):
        result = runner.invoke(args=["import", "claims", str(path), *dry])
        assert result.exit_code == 1
        assert f"row 3, column {column}:" in result.output and word in result.output.split(f"column {column}:")[1]
        assert "row 2" not in result.output
    assert _claims_in_db(database) == 0  # all or nothing


def test_a_claim_that_fits_is_imported(runner, database, tmp_path):
    pol = _policy(runner, tmp_path)
    today = insurer_today().isoformat()
    rows = [
        claim_row(pol["policy_no"], loss_date="2022-01-01", report_date="2022-01-01"),  # the first day of cover
        claim_row(pol["policy_no"], loss_date=today, report_date=today),
    ]
    result = runner.invoke(args=["import", "claims", str(write_csv(tmp_path / "claims.csv", rows))])
    assert result.exit_code == 0, result.output
    assert _claims_in_db(database) == 2


def test_entry_refuses_a_loss_outside_the_cover_with_a_field_error(client, login_as, runner, database, tmp_path):
    pol = _policy(runner, tmp_path)
    login_as("underwriter")
    token = csrf_token(client, "/review/entry")
    claim = {
        "c-csrf_token": token,
        "c-policy_no": pol["policy_no"],
        "c-claim_no": "LM-9",
        "c-loss_date": "2021-06-01",
        "c-report_date": "2021-06-02",
        "c-status": "reported",
        "c-claimed_amount": "1000",
        "c-reserve_amount": "1000",
        "c-paid_amount": "0",
    }
    response = client.post("/review/entry/claim", data=claim)
    assert response.status_code == 422 and "is-invalid" in response.get_data(as_text=True)
    assert "2022-01-01" in response.get_data(as_text=True)
    assert _claims_in_db(database) == 0
