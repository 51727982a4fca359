"""People are named, not shown by e-mail address (issue 24): an admin sets the name a user is
shown by, and the pages that show who did something (audit trails, runs) use it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm.audit import Actor
from crm.importer import import_csv
from crm.models import AuditEvent, Customer, TierRun, User
from tests.conftest import csrf_token
from tests.factories import customer_row, write_csv


def test_an_admin_renames_a_user_and_pages_use_the_name(client, login_as, make_user, database, tmp_path):
    user_id, email = make_user("risk_officer")
    with database.transaction() as s:
        s.add(TierRun(mode="preview", state="completed", trigger="ui", started_by=email, as_of=dt.date(2026, 11, 24)))
    login_as("admin")
    response = client.post(
        f"/admin/users/{user_id}/name", data={"csrf_token": csrf_token(client, "/admin/users"), "full_name": " 孙风控 "}
    )
    assert response.status_code == 302
    assert 'value="孙风控"' in client.get("/admin/users").get_data(as_text=True)
    with database.session() as s:
        assert s.get(User, user_id).full_name == "孙风控"
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "user.rename"))
        assert event is not None and event.entity_id == str(user_id)
    runs = client.get("/tiers/runs").get_data(as_text=True)
    assert "孙风控" in runs and email not in runs


def test_only_an_admin_renames(client, login_as, make_user):
    user_id, _email = make_user("underwriter")
    login_as("risk_officer")
    token = csrf_token(client, "/customers")
    assert client.post(f"/admin/users/{user_id}/name", data={"csrf_token": token, "full_name": "x"}).status_code == 403


def test_the_audit_trail_names_the_actor(client, login_as, make_user, database, tmp_path):
    _id, importer = make_user("admin", full_name="周导入")
    row = customer_row()
    with database.session() as s:
        actor = Actor.for_user(s.scalar(select(User).where(User.email == importer)))
    import_csv(database, "customers", write_csv(tmp_path / "c.csv", [row]), actor)
    with database.session() as s:
        cid = s.scalar(select(Customer.id).where(Customer.customer_ref == row["customer_ref"]))
    login_as("admin")
    html = client.get(f"/customers/{cid}").get_data(as_text=True)
    trail = html[html.index("Audit trail") :]
    assert "周导入" in trail and importer not in trail and "Import completed" in trail
