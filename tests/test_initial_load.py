"""The initial load is a one-time, audited act: open on an empty database until the first
ordinary import, the first tier run or its closure; afterwards a file is loaded as initial load
only once a second admin approves it, and the approval is spent by that one import."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm import initial_load
from crm.audit import Actor
from crm.models import AuditEvent, TierRun
from tests.factories import customer_row, write_csv

ADMIN, OTHER = Actor("user", "a@test.crm", "1", "admin"), Actor("user", "b@test.crm", "2", "admin")


def _import(runner, path, *flags):
    return runner.invoke(args=["import", "customers", str(path), *flags])


def test_open_until_the_first_ordinary_import_then_a_second_admin_approves_each_file(runner, database, tmp_path):
    assert _import(runner, write_csv(tmp_path / "old.csv", [customer_row()]), "--initial-load").exit_code == 0
    assert _import(runner, write_csv(tmp_path / "new.csv", [customer_row()])).exit_code == 0  # closes it
    late = write_csv(tmp_path / "late.csv", [customer_row()])
    refused = _import(runner, late, "--initial-load")
    assert refused.exit_code == 1 and "initial load is closed" in refused.output
    with database.transaction() as s:
        [request] = initial_load.requests(s)
        assert request.filename == "late.csv"
        assert initial_load.request(s, ADMIN, "customers", request.sha256, "late.csv").id == request.id
    with database.transaction() as s:
        with pytest.raises(initial_load.ApprovalError, match="only an admin"):
            initial_load.approve(s, Actor("cli", "someone@import"), request.id)
        initial_load.approve(s, OTHER, request.id)
    assert _import(runner, late, "--initial-load").exit_code == 0
    again = _import(runner, write_csv(tmp_path / "late2.csv", [customer_row()]), "--initial-load")
    assert again.exit_code == 1  # another file: another approval
    with database.session() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("import.initial_load%"))))
    assert actions == {
        "import.initial_load_requested",
        "import.initial_load_approved",
        "import.initial_load_approval_used",
    }


def test_the_requester_cannot_approve(database):
    with database.transaction() as s:
        initial_load.close(s, ADMIN)
        request = initial_load.request(s, ADMIN, "policies", "0" * 64, "p.csv")
    with database.transaction() as s, pytest.raises(initial_load.ApprovalError, match="second admin"):
        initial_load.approve(s, ADMIN, request.id)


def test_closed_by_hand_or_by_the_first_tier_run(runner, database, tmp_path):
    with database.session() as s:
        assert initial_load.is_open(s)
    result = runner.invoke(args=["import", "close-initial-load"])
    assert result.exit_code == 0 and "closed" in result.output
    with database.session() as s:
        assert not initial_load.is_open(s)
    assert "closed already" in runner.invoke(args=["import", "close-initial-load"]).output


def test_a_tier_run_closes_it(database):
    import datetime as dt

    with database.transaction() as s:
        s.add(TierRun(mode="publish", state="completed", trigger="cli", started_by="tests", as_of=dt.date(2025, 1, 1)))
    with database.session() as s:
        assert not initial_load.is_open(s)
