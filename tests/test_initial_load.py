"""The initial load is a one-time, audited act: open on an empty database until the first
ordinary import, the first tier run or its closure; afterwards a file is loaded as initial load
only once a second admin approves it, and the approval is spent by that one import."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm import initial_load
from crm.audit import Actor
from crm.models import AuditEvent, TierRun, User
from tests.conftest import csrf_token
from tests.factories import customer_row, write_csv

ADMIN, OTHER = Actor("user", "a@test.crm", "1", "admin"), Actor("user", "b@test.crm", "2", "admin")


def _import(runner, path, *flags):
    return runner.invoke(args=["import", "customers", str(path), *flags])


def _user(session, email: str) -> User:
    return session.scalar(select(User).where(User.email == email))


def _approve(client, auth, email: str, request_id: int) -> str:
    """``email`` (an admin) approves the request on the import page; returns the page shown after."""
    auth.login(email)
    response = client.post(
        f"/admin/initial-load/{request_id}/approve",
        data={"csrf_token": csrf_token(client, "/admin/import")},
        follow_redirects=True,
    )
    auth.logout()
    return response.get_data(as_text=True)


def test_the_command_line_asks_for_an_initial_load_as_a_named_admin_whom_four_eyes_then_exclude(
    runner, client, auth, database, tmp_path, make_user
):
    _, first = make_user("admin")
    _, second = make_user("admin")
    _, underwriter = make_user("underwriter")
    with database.transaction() as s:
        initial_load.close(s, ADMIN)
    late = write_csv(tmp_path / "late.csv", [customer_row()])
    # Without a person, nothing is asked: the approval would have no one to compare with.
    anonymous = _import(runner, late, "--initial-load")
    assert anonymous.exit_code == 1 and "--user" in anonymous.output
    for who in (underwriter, "nobody@test.crm"):
        assert _import(runner, late, "--initial-load", "--user", who).exit_code != 0
    with database.session() as s:
        assert initial_load.requests(s) == []
    # Named, the request is that admin's: they cannot approve it on the import page; another admin can.
    asked = _import(runner, late, "--initial-load", "--user", first.upper())
    assert asked.exit_code == 1 and "initial load is closed" in asked.output
    with database.session() as s:
        [request] = initial_load.requests(s)
    assert request.requested_by == first
    _approve(client, auth, first, request.id)
    with database.session() as s:
        assert [r.state for r in initial_load.requests(s)] == ["requested"]
    _approve(client, auth, second, request.id)
    loaded = _import(runner, late, "--initial-load", "--user", first)
    assert loaded.exit_code == 0, loaded.output
    with database.session() as s:
        asked_by = s.scalars(
            select(AuditEvent.actor_label).where(AuditEvent.action == "import.initial_load_requested")
        ).all()
        approved_by = s.scalars(
            select(AuditEvent.actor_label).where(AuditEvent.action == "import.initial_load_approved")
        ).all()
    assert (asked_by, approved_by) == ([first], [second])


def test_open_until_the_first_ordinary_import_then_a_second_admin_approves_each_file(
    runner, database, tmp_path, make_user
):
    _, admin = make_user("admin")
    assert _import(runner, write_csv(tmp_path / "old.csv", [customer_row()]), "--initial-load").exit_code == 0
    assert _import(runner, write_csv(tmp_path / "new.csv", [customer_row()])).exit_code == 0  # closes it
    late = write_csv(tmp_path / "late.csv", [customer_row()])
    refused = _import(runner, late, "--initial-load", "--user", admin)
    assert refused.exit_code == 1 and "initial load is closed" in refused.output
    with database.transaction() as s:
        [request] = initial_load.requests(s)
        assert (request.filename, request.requested_by) == ("late.csv", admin)
        assert initial_load.request(s, Actor.for_user(_user(s, admin)), "customers", request.sha256, "x").id == (
            request.id
        )
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
