"""The authorisation matrix: every workspace route × every role, and another manager's customer
by id in every view and export answers 404 (exactly as a customer that does not exist)."""

from __future__ import annotations

import csv
import io

from crm.validators import ROLES
from crm.workspace.snapshots import take_snapshot
from tests.conftest import csrf_token
from tests.workspace_helpers import ACTOR, AS_OF, two_portfolios

STAFF = ("admin", "account_manager", "underwriter", "claims_reviewer", "risk_officer")
# (method, path, roles allowed); {c} is a customer of the logged-in manager's (or any, for others).
ROUTES = [
    ("GET", "/dashboard", STAFF),
    ("GET", "/workspace/portfolio", ("admin", "account_manager")),
    ("GET", "/workspace/unassigned-vips", ("admin",)),
    ("GET", "/workspace/visits", ("admin", "account_manager")),
    ("GET", "/workspace/targets", ("admin", "account_manager")),
    ("GET", "/reports", STAFF),
    ("GET", "/reports/definitions", STAFF),
    ("GET", "/reports/premium.csv", STAFF),
    ("GET", "/workspace/export", ("admin",)),
    ("GET", "/customers/{c}/visits/new", ("account_manager",)),
    ("GET", "/customers/{c}", STAFF),
    ("GET", "/customers", STAFF),
]
# (path, roles allowed, the status an allowed role gets for a POST with nothing but the CSRF
# token: a form's 422, or what the action answers); every other role gets 403.
POSTS = [
    ("/workspace/targets", ("admin",), 422),
    ("/workspace/teams", ("admin",), 422),
    ("/workspace/snapshot", ("admin",), 302),
    ("/workspace/export", ("admin",), 200),
    ("/workspace/customers/{c}/reassign", ("admin",), 303),
    ("/customers/{c}/visits/new", ("account_manager",), 422),
]


def test_every_route_for_every_role(client, auth, make_user, database, tmp_path):
    """One portfolio, every role logged in in turn (one data load keeps this fast)."""
    users = {role: make_user(role)[1] for role in ROLES}
    _, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, users["account_manager"], other)
    take_snapshot(database, AS_OF, "t", ACTOR)
    for role in ROLES:
        assert auth.login(users[role]).status_code == 302
        token = csrf_token(client, "/dashboard")  # every page, even a 403, carries the layout's token
        for _method, path, allowed in ROUTES:
            status = client.get(path.format(c=ids["a"])).status_code
            assert (status == 200) == (role in allowed), (role, path, status)
            assert status in (200, 403), (role, path, status)
        for path, allowed, answer in POSTS:
            status = client.post(path.format(c=ids["a"]), data={"csrf_token": token}).status_code
            assert status == (answer if role in allowed else 403), (role, path, status)
        auth.logout()


def test_another_managers_customer_answers_404_everywhere(client, login_as, make_user, database, tmp_path):
    _, mine = login_as("account_manager")
    _, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, mine, other)
    take_snapshot(database, AS_OF, "t", ACTOR)
    theirs = ids["c"]
    token = csrf_token(client, "/customers")
    assert client.get(f"/customers/{ids['a']}").status_code == 200
    for path in (f"/customers/{theirs}", f"/customers/{theirs}/visits/new", "/customers/999999"):
        assert client.get(path).status_code == 404, path
    for path in (f"/customers/{theirs}/reveal", f"/customers/{theirs}/visits/new"):
        assert (
            client.post(
                path, data={"csrf_token": token, "kind": "visit", "visit_date": "2025-06-01", "outcome": "x"}
            ).status_code
            == 404
        ), path
    # Lists, search and the portfolio hold only their own customers.
    for path in ("/customers", f"/customers?q={ids['refs']['c']}", "/customers?q=丙", "/workspace/portfolio"):
        assert f">{ids['refs']['c']}</a>" not in client.get(path).get_data(as_text=True), path
    assert f">{ids['refs']['a']}</a>" in client.get("/workspace/portfolio").get_data(as_text=True)
    # Reports and their CSV: only the manager's own figures (no other city, no other manager).
    cities = list(
        csv.reader(io.StringIO(client.get("/reports/loss_ratio_city.csv").get_data(as_text=True).lstrip("\ufeff")))
    )
    assert {r[0] for r in cities[1:-1]} == {"北京", "上海"}
    managers = list(
        csv.reader(io.StringIO(client.get("/reports/loss_ratio_manager.csv").get_data(as_text=True).lstrip("\ufeff")))
    )
    assert len(managers) == 3  # header, their own row, total
    # The customer page of their own customer does not name the other portfolio's referrals.
    assert "丙客户" not in client.get(f"/customers/{ids['a']}").get_data(as_text=True)


def test_follow_up_of_another_manager_answers_404(client, login_as, make_user, database, tmp_path, auth):
    from crm.models import User
    from crm.workspace.visits import VisitInput, log_visit

    _, mine = make_user("account_manager")
    _, other = login_as("account_manager")
    ids = two_portfolios(database, tmp_path, mine, other)
    with database.transaction() as s:
        owner = s.query(User).filter_by(email=mine).one()
        visit = log_visit(s, ACTOR, owner, ids["a"], VisitInput("call", AS_OF, "ok", "call again", AS_OF), AS_OF)
        visit_id = visit.id
    token = csrf_token(client, "/customers")
    assert client.post(f"/workspace/visits/{visit_id}/done", data={"csrf_token": token}).status_code == 404


def test_admin_reassigns_audited_and_lists_unassigned_vips(client, login_as, make_user, database, tmp_path):
    from sqlalchemy import select

    from crm.models import AuditEvent, Customer
    from tests.workspace_helpers import set_tier

    login_as("admin")
    new_id, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, mine, other)
    set_tier(database, ids["d"], "vip", 90)
    html = client.get("/workspace/unassigned-vips").get_data(as_text=True)
    assert ids["refs"]["d"] in html
    token = csrf_token(client, "/workspace/unassigned-vips")
    response = client.post(
        f"/workspace/customers/{ids['d']}/reassign", data={"csrf_token": token, "manager": new_id, "back": "unassigned"}
    )
    assert response.status_code == 302
    assert "Every VIP has an account manager" in client.get("/workspace/unassigned-vips").get_data(as_text=True)
    with database.session() as s:
        assert s.get(Customer, ids["d"]).account_manager_id == new_id
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "customer.reassign")).one()
        assert event.entity_id == str(ids["d"]) and f'"account_manager_id":{new_id}' in event.after
