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

    from crm.models import LoginThrottle

    _, email = make_user("admin")
    for _ in range(5):
        assert auth.login(email, "wrong-password-x").status_code == 401
    response = auth.login(email)  # the right password, but this address is locked out
    assert response.status_code == 401
    assert "Wrong e-mail or password" in response.get_data(as_text=True)  # no word of a lock
    with database.transaction() as session:  # the lock is temporary
        session.execute(update(LoginThrottle).values(locked_until=dt.datetime.now(dt.timezone.utc)
                                                     - dt.timedelta(seconds=1)))
    assert auth.login(email).status_code == 302


def test_an_attacker_cannot_lock_out_the_owner(app, make_user):
    """Failures from the attacker's address lock that address only; the owner logs in."""
    from tests.conftest import AuthActions

    _, email = make_user("account_manager")
    attacker = AuthActions(app.test_client())
    attacker.client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(12):
        attacker.login(email, "guess-guess-guess")
    assert attacker.login(email).status_code == 401  # the right password: this address is locked
    owner = AuthActions(app.test_client())
    owner.client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert owner.login(email).status_code == 302


def test_a_distributed_guess_pauses_the_account_briefly(app, make_user, database):
    import datetime as dt

    from crm.auth.services import ACCOUNT_LOCK, ACCOUNT_MAX_FAILURES
    from crm.models import User
    from tests.conftest import AuthActions

    user_id, email = make_user("admin")
    for i in range(ACCOUNT_MAX_FAILURES):
        guesser = AuthActions(app.test_client())
        guesser.client.environ_base["REMOTE_ADDR"] = f"192.0.2.{i + 1}"
        guesser.login(email, "guess-guess-guess")
    owner = AuthActions(app.test_client())
    owner.client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert owner.login(email).status_code == 401
    with database.session() as session:
        until = session.get(User, user_id).locked_until
    assert until - dt.datetime.now(dt.timezone.utc) <= ACCOUNT_LOCK


def test_password_policy_refuses_short_and_common_passwords(runner):
    for weak in ("short1", "password1234", "123456789012", "aaaaaaaaaaaaaaa"):
        result = runner.invoke(args=["users", "create", "x@test.crm", "--role", "admin", "--password-stdin"],
                               input=weak + "\n")
        assert result.exit_code != 0 and "password refused" in result.output, weak
    ok = runner.invoke(args=["users", "create", "x@test.crm", "--role", "admin", "--password-stdin"],
                       input="Correct-Horse-Battery-9\n")
    assert ok.exit_code == 0


def test_passwords_are_hashed_with_scrypt(make_user, database):
    from crm.models import User

    user_id, _ = make_user("admin")
    with database.session() as session:
        stored = session.get(User, user_id).password_hash
    assert stored.startswith("scrypt:") and "Sturdy-Password-42" not in stored


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
