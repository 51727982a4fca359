"""Log-in, log-out, CSRF, lock-out, safe redirects and the role check on every view."""
from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, csrf_token


def test_root_sends_visitors_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_login_page_has_the_contract_fields(client):
    html = client.get("/login").get_data(as_text=True)
    for name in ('name="email"', 'name="password"', 'name="csrf_token"'):
        assert name in html


def test_login_and_logout(client, auth, make_user):
    _, email = make_user("admin")
    response = auth.login(email)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/customers").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/customers").status_code == 302


def test_wrong_password_rerenders_with_an_error(client, auth, make_user):
    _, email = make_user("admin")
    response = auth.login(email, "not-the-password")
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.get_data(as_text=True)


def test_unknown_user_gets_the_same_answer(client, auth):
    response = auth.login("nobody@test.crm", "whatever-password")
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, make_user):
    _, email = make_user("admin")
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/customers").status_code == 302  # not logged in


def test_logout_without_csrf_token_is_refused(client, auth, make_user):
    _, email = make_user("admin")
    auth.login(email)
    assert client.post("/logout").status_code == 400
    assert client.get("/customers").status_code == 200  # still logged in


def test_lockout_after_repeated_failures_then_expires(client, auth, make_user, database):
    import datetime as dt

    from sqlalchemy import update

    from crm.models import User

    user_id, email = make_user("admin")
    for _ in range(5):
        assert auth.login(email, "wrong-password-x").status_code == 401
    response = auth.login(email)  # the right password, but locked
    assert response.status_code == 401
    assert "Too many failed attempts" in response.get_data(as_text=True)
    with database.transaction() as session:  # the lock is temporary
        session.execute(update(User).where(User.id == user_id).values(
            locked_until=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    assert auth.login(email).status_code == 302


@pytest.mark.parametrize("target,expected", [
    ("/customers?tier=vip", "/customers?tier=vip"),
    ("https://evil.example/steal", "/"),
    ("//evil.example/x", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_next_redirect_is_only_ever_local(client, make_user, target, expected):
    _, email = make_user("admin")
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token,
                                           "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_every_view_checks_log_in_and_role(app, client, login_as):
    """Every endpoint either is public on purpose or refuses anonymous users and wrong roles."""
    public = {"static", "auth.login", "auth.logout", "auth.language"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in public:
            continue
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "required_roles", None)
        assert roles is not None or rule.endpoint == "customers.home", f"{rule.endpoint} has no role check"
        checked += 1
    assert checked >= 4


def test_partner_cashier_cannot_see_customers(client, login_as):
    login_as("partner_cashier")
    assert client.get("/customers").status_code == 403
    assert client.get("/admin/import").status_code == 403


def test_account_manager_cannot_open_admin_pages(client, login_as):
    login_as("account_manager")
    assert client.get("/admin/import").status_code == 403
    assert client.get("/customers").status_code == 200


def test_language_switch_is_per_user(client, login_as):
    login_as("admin")
    response = client.post("/language", data={"locale": "zh", "csrf_token": csrf_token(client, "/customers"),
                                              "next": "/customers"})
    assert response.status_code == 302
    html = client.get("/customers").get_data(as_text=True)
    assert "客户" in html
