"""The audit trail: hash chain, every kind of tampering, append-only triggers, concurrency."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from crm import audit
from crm.models import AuditEvent, Customer

ACTOR = audit.Actor("system", "tests")


def _write(database, n: int, start: int = 0) -> None:
    with database.transaction() as s:
        audit.record(
            s, ACTOR, [audit.Change("thing.create", "thing", start + i, None, {"i": start + i}) for i in range(n)]
        )


def _verify(database, anchor=None):
    audit.seal_pending(database)
    with database.session() as s:
        return audit.verify(s, anchor)


def _raw(database, sql: str, **params) -> None:
    """Tamper like an attacker with database access would, with the sealed trail: triggers off,
    raw SQL."""
    audit.seal_pending(database)
    with database.engine.begin() as conn:
        if database.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            conn.execute(text(sql), params)
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
            conn.execute(text(sql), params)


def test_intact_chain_verifies(database):
    _write(database, 5)
    _write(database, 3, start=5)
    result = _verify(database)
    assert result.ok and result.checked == 8 and result.last_seq == 8


def test_edited_event_is_caught(database):
    _write(database, 5)
    _raw(database, "UPDATE audit_events SET after = :a WHERE seq = 3", a='{"i":99}')
    result = _verify(database)
    assert not result.ok and "event 3 was altered" in result.problem


def test_deleted_event_is_caught(database):
    _write(database, 5)
    _raw(database, "DELETE FROM audit_events WHERE seq = 2")
    result = _verify(database)
    assert not result.ok and "position 2 of the chain is missing" in result.problem


def test_reordered_events_are_caught(database):
    _write(database, 5)
    swap = "UPDATE audit_events SET position = CASE position WHEN {a} THEN {b} WHEN {c} THEN {d} END"
    _raw(database, swap.format(a=2, b=1002, c=3, d=1003) + " WHERE position IN (2, 3)")
    _raw(database, swap.format(a=1002, b=3, c=1003, d=2) + " WHERE position IN (1002, 1003)")
    result = _verify(database)
    assert not result.ok and "event 3 does not follow the event before it" in result.problem


def test_inserted_event_is_caught(database):
    _write(database, 3)
    _verify(database)
    with database.session() as s:
        third = s.get(AuditEvent, 3)
        forged = {c: getattr(third, c) for c in audit._FIELDS}
    forged.update(seq=4, position=4, action="thing.forged", prev_hash=third.hash)
    forged["hash"] = "f" * 64  # the forger cannot know a hash that fits the next event anyway
    _raw(database, "UPDATE audit_head SET seq = 4 WHERE id = 1")
    with database.transaction() as s:
        s.execute(AuditEvent.__table__.insert().values(**forged))
    result = _verify(database)
    assert not result.ok and "event 4 was altered" in result.problem


def test_truncated_tail_is_caught_against_the_anchor(database):
    _write(database, 5)
    anchor = {"seq": _verify(database).last_seq, "hash": _verify(database).last_hash}
    _raw(database, "DELETE FROM audit_events WHERE seq >= 4")
    _raw(database, "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_events WHERE seq = 3) WHERE id = 1")
    assert _verify(database).ok  # without the anchor a clean truncation looks whole
    result = _verify(database, anchor)
    assert not result.ok and "truncated" in result.problem


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"])
def test_triggers_refuse_update_and_delete(database, statement):
    _write(database, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        with database.engine.begin() as conn:
            conn.execute(text(statement))
    assert _verify(database).ok


def test_truncate_is_refused(database):
    if database.dialect != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (DELETE is refused above)")
    with pytest.raises(DBAPIError, match="append-only"):
        with database.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_events"))


def test_fifty_concurrent_writers_never_fork_the_chain(database):
    errors = []

    def writer(i):
        try:
            for j in range(4):
                _write(database, 2, start=i * 100 + j * 2)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = _verify(database)
    assert result.ok and result.checked == 50 * 4 * 2


def test_two_sealers_started_at_once_seal_every_event_once_in_order(database):
    for i in range(20):
        _write(database, 3, start=i * 3)
    start, counts, errors = threading.Barrier(2), [], []

    def sealer():
        try:
            start.wait()
            counts.append(audit.seal_pending(database))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=sealer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sum(counts) == 60
    with database.session() as s:
        sealed = s.execute(select(AuditEvent.seq, AuditEvent.position).order_by(AuditEvent.position)).all()
    assert sealed == [(n, n) for n in range(1, 61)]  # one writer at a time: the chain in their order
    result = _verify(database)
    assert result.ok and result.checked == 60


def test_an_event_committed_after_a_later_numbered_one_is_sealed_after_it(database):
    if database.dialect != "postgresql":
        pytest.skip("SQLite writers take turns: an event's number follows the commits")
    slow = database.session(write=True)
    audit.record(slow, ACTOR, audit.Change("thing.create", "thing", 1))  # number 1, not committed
    _write(database, 1, start=2)  # number 2, committed
    assert audit.seal_pending(database) == 1
    slow.commit()
    slow.close()
    assert audit.seal_pending(database) == 1
    with database.session() as s:
        sealed = s.execute(select(AuditEvent.seq).order_by(AuditEvent.position)).scalars().all()
    assert sealed == [2, 1]
    assert _verify(database).ok and _verify(database).checked == 2


def test_verify_reports_events_the_sealer_left_for_more_than_a_minute(database):
    _write(database, 2)
    with database.session() as s:
        assert audit.verify(s).ok  # unsealed for a moment: the sealer's next second
    row = {
        "occurred_at": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2),
        "actor_type": "system",
        "actor_label": "tests",
        "action": "thing.create",
        "entity_type": "thing",
    }
    with database.transaction() as s:
        s.execute(AuditEvent.__table__.insert().values(**row))
    with database.session() as s:
        result = audit.verify(s)
    assert not result.ok and "1 events have been left unsealed for more than a minute" in result.problem
    assert _verify(database).ok and _verify(database).checked == 3


def test_only_sealing_may_update_an_event(database):
    _write(database, 1)
    with pytest.raises(DBAPIError, match="append-only"):  # a forged seal must keep the content
        with database.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET position = 1, prev_hash = 'x', hash = 'y', action = 'z'"))
    assert _verify(database).ok
    with pytest.raises(DBAPIError, match="append-only"):  # a sealed event stays as sealed
        with database.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET position = 7, hash = 'y'"))


def test_rolled_back_operation_leaves_no_event(database):
    with pytest.raises(RuntimeError):
        with database.transaction() as s:
            audit.record(s, ACTOR, audit.Change("thing.create", "thing", 1))
            raise RuntimeError("the operation failed")
    assert _verify(database).checked == 0


def test_record_time_is_the_servers(database):
    before = dt.datetime.now(dt.UTC)
    # A client-sent time has nowhere to go: Change has no time field, and a value in the
    # payload is just data, never the event's time.
    with database.transaction() as s:
        audit.record(s, ACTOR, audit.Change("thing.create", "thing", 1, None, {"occurred_at": "1999-01-01"}))
    with database.session() as s:
        event = s.get(AuditEvent, 1)
    assert before <= event.occurred_at <= dt.datetime.now(dt.UTC)


def test_cli_verify_and_anchor(runner, database, tmp_path):
    _write(database, 3)
    anchor = runner.invoke(args=["audit", "anchor"])
    assert anchor.exit_code == 0
    path = tmp_path / "anchor.json"
    path.write_text(anchor.output)
    assert json.loads(anchor.output)["seq"] == 3
    ok = runner.invoke(args=["audit", "verify", "--anchor", str(path)])
    assert ok.exit_code == 0 and "intact" in ok.output
    _raw(database, "UPDATE audit_events SET actor_label = 'mallory' WHERE seq = 2")
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1 and "event 2" in bad.output


def test_reveal_of_personal_data_is_audited(client, login_as, database, tmp_path):
    from crm.importer import import_csv
    from tests.conftest import csrf_token
    from tests.factories import customer_row, write_csv

    user_id, email = login_as("admin")
    import_csv(database, "customers", write_csv(tmp_path / "c.csv", [customer_row()]), ACTOR)
    with database.session() as s:
        customer_id = str(s.scalar(select(Customer.id)))
    page = client.get(f"/customers/{customer_id}")
    token = csrf_token(client, f"/customers/{customer_id}")
    revealed = client.post(f"/customers/{customer_id}/reveal", data={"csrf_token": token})
    assert revealed.status_code == 200
    with database.session() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "pii.reveal"))
    assert event.actor_label == email and event.entity_id == customer_id and event.request_id
    assert page.status_code == 200


def test_business_records_are_voided_not_deleted(client, login_as, auth, database, tmp_path):
    from sqlalchemy.exc import DBAPIError

    from crm.importer import import_csv
    from crm.models import Policy
    from tests.conftest import csrf_token
    from tests.factories import customer_row, policy_row, write_csv

    row = customer_row()
    import_csv(database, "customers", write_csv(tmp_path / "c.csv", [row]), ACTOR)
    import_csv(database, "policies", write_csv(tmp_path / "p.csv", [policy_row(row["customer_ref"])]), ACTOR)
    with database.session() as s:
        policy = s.scalar(select(Policy))
    for table in ("policies", "customers"):  # the database itself refuses a deletion
        with pytest.raises(DBAPIError, match="never deleted"):
            with database.engine.begin() as conn:
                conn.execute(text(f"DELETE FROM {table}"))
    login_as("underwriter")
    path = f"/admin/records/policy/{policy.id}/void"
    token = csrf_token(client, f"/customers/{policy.customer_id}")
    refused = client.post(path, data={"csrf_token": token, "reason": ""}, follow_redirects=True)
    assert "reason" in refused.get_data(as_text=True)
    asked = client.post(path, data={"csrf_token": token, "reason": "entered twice by mistake"}, follow_redirects=True)
    assert "a second person must confirm" in asked.get_data(as_text=True)  # a policy in force: two people
    alone = client.post(path, data={"csrf_token": token, "reason": "entered twice by mistake"}, follow_redirects=True)
    assert "second person must confirm it" in alone.get_data(as_text=True)
    with database.session() as s:
        assert s.get(Policy, policy.id).voided_at is None
    auth.logout()
    login_as("admin")
    token = csrf_token(client, f"/customers/{policy.customer_id}")
    assert "Confirm the void" in client.get(f"/customers/{policy.customer_id}").get_data(as_text=True)
    client.post(path, data={"csrf_token": token, "reason": "entered twice by mistake"})
    again = client.post(path, data={"csrf_token": token, "reason": "entered twice by mistake"}, follow_redirects=True)
    assert "voided already" in again.get_data(as_text=True)
    with database.session() as s:
        voided = s.get(Policy, policy.id)
        assert voided.voided_at is not None and voided.void_reason == "entered twice by mistake"
        event = s.scalar(
            select(AuditEvent).where(AuditEvent.action == "policy.void", AuditEvent.entity_type == "policy")
        )
        asked = s.scalar(select(AuditEvent).where(AuditEvent.action == "policy.void_requested"))
        assert event.actor_role == "admin" and asked.actor_role == "underwriter" and audit.verify(s).ok
