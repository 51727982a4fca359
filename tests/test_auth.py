"""Log-in, log-out, CSRF, lock-out, safe redirects and the role check on every view."""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from crm.audit import Actor
from crm.auth.services import create_user
from crm.validators import ROLES
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
        session.execute(update(LoginThrottle).values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
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
    assert until - dt.datetime.now(dt.UTC) <= ACCOUNT_LOCK


def test_password_policy_refuses_short_and_common_passwords(runner):
    for weak in ("short1", "password1234", "123456789012", "aaaaaaaaaaaaaaa"):
        result = runner.invoke(
            args=["users", "create", "x@test.crm", "--role", "admin", "--password-stdin"], input=weak + "\n"
        )
        assert result.exit_code != 0 and "password refused" in result.output, weak
    ok = runner.invoke(
        args=["users", "create", "x@test.crm", "--role", "admin", "--password-stdin"], input="Correct-Horse-Battery-9\n"
    )
    assert ok.exit_code == 0


def test_passwords_are_hashed_with_scrypt(make_user, database):
    from crm.models import User

    user_id, _ = make_user("admin")
    with database.session() as session:
        stored = session.get(User, user_id).password_hash
    assert stored.startswith("scrypt:") and "Sturdy-Password-42" not in stored


def test_only_the_test_configuration_hashes_cheaply(sqlite_url):
    """The suite's cheap scrypt cost is the test configuration's alone: production and
    development hash at Werkzeug's full cost (N=2^15, r=8, p=1), and an app started in
    production stores hashes of that cost whatever ran before it in the process."""
    from crm.app import create_app
    from crm.auth import passwords
    from crm.config import TEST_PASSWORD_HASH, load_settings
    from crm.models import User

    assert load_settings({"env": "production", "secret_key": "k"}).password_hash == "scrypt:32768:8:1"
    assert load_settings({"env": "development", "secret_key": "k"}).password_hash == "scrypt:32768:8:1"
    assert load_settings({"env": "test"}).password_hash == "scrypt:256:8:1"
    assert (
        load_settings({"env": "production", "secret_key": "k", "password_hash": "scrypt:256:8:1"}).password_hash
        == "scrypt:32768:8:1"
    )  # not settable from outside
    app = create_app({"env": "production", "secret_key": "k" * 32, "database_url": sqlite_url})
    try:
        with app.extensions["crm_db"].transaction() as session:
            user = create_user(session, Actor("system", "tests"), "strong@test.crm", "admin", PASSWORD)
            stored = user.password_hash
        with app.extensions["crm_db"].session() as session:
            assert session.get(User, user.id).password_hash.startswith("scrypt:32768:8:1$")
    finally:
        app.extensions["crm_db"].dispose()
        passwords.use_method(TEST_PASSWORD_HASH)
    assert passwords.verify_password(stored, PASSWORD) and not passwords.verify_password(stored, "x" + PASSWORD)


@pytest.mark.parametrize(
    "target,expected",
    [
        ("/customers?tier=vip", "/customers?tier=vip"),
        ("https://evil.example/steal", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_redirect_is_only_ever_local(client, make_user, target, expected):
    _, email = make_user("admin")
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


PUBLIC = {"static", "auth.login", "auth.logout", "auth.language"}  # open to anyone on purpose
LOGGED_IN = {"customers.home"}  # any logged-in user: it sends each role to its own start page
# Views whose writes are narrower than their pages: the view checks the role again by method.
NARROWER = {("tiers.policy", "POST"): ("admin",)}


def _requests(app):
    """(endpoint, method, path, required roles) for every route and method of the app, with
    placeholder values in the path (an id that does not exist, the first of an `any`)."""
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in PUBLIC:
            continue
        values = {}
        for name, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter):  # the app's bounded <int:…> too
                values[name] = 999_999
            elif isinstance(converter, AnyConverter):
                values[name] = re.search(rf"<any\(([^,)]+)[^>]*:{name}>", rule.rule).group(1).strip()
            else:
                values[name] = "x"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            view = app.view_functions[rule.endpoint]
            yield (
                rule.endpoint,
                method,
                adapter.build(rule.endpoint, values, method=method),
                getattr(view, "required_roles", None),
            )


@pytest.mark.parametrize("role", ["anonymous", *ROLES])  # one walk per test: they spread over the workers
def test_every_view_refuses_anonymous_users_and_wrong_roles(sqlite_url, role):
    """Walk every route: anonymous users are sent to the log-in (the partner API: 401), every
    role outside the view's declared ``required_roles`` gets 403 (the API: 401, it takes keys
    only), and a role inside it is let through to the view (not refused, nor sent to log in).
    POSTs carry a valid CSRF token, so that it is the log-in and role check that answers, not
    CSRF's 400."""
    from crm.app import create_app
    from partners import services as partner_services
    from tests.conftest import AuthActions

    app = create_app({"env": "test", "database_url": sqlite_url})
    try:
        routes = list(_requests(app))
        undeclared = [e for e, _, _, roles in routes if roles is None and e not in LOGGED_IN]
        assert not undeclared, f"views without a declared role check: {undeclared}"
        assert len(routes) > 60

        client = app.test_client()
        if role == "anonymous":
            token = csrf_token(client)
            for endpoint, method, path, roles in routes:
                response = client.open(path, method=method, data={"csrf_token": token})
                if roles == ("partner_api",):
                    assert response.status_code == 401, (endpoint, method, response.status_code)
                else:
                    assert response.status_code == 302, (endpoint, method, response.status_code)
                    assert response.headers["Location"].startswith("/login?next="), (endpoint, method)
            return

        with app.extensions["crm_db"].transaction() as session:
            create_user(session, Actor("system", "tests"), f"{role}@walk.test", role, PASSWORD)
            if role == "partner_cashier":  # a cashier sees the portal only while linked to a partner
                partner, _key = partner_services.create_partner(session, Actor("system", "tests"), "商户", "dining")
                partner_services.link_cashier(session, Actor("system", "tests"), partner.id, f"{role}@walk.test")
        assert AuthActions(client).login(f"{role}@walk.test").status_code == 302
        token = csrf_token(client, "/dashboard")  # every page, even a 403, carries the token
        wrong = []
        for endpoint, method, path, roles in routes:
            response = client.open(path, method=method, data={"csrf_token": token})
            status = response.status_code
            roles = NARROWER.get((endpoint, method), roles)
            if roles == ("partner_api",):
                expected_ok = status == 401
            elif roles is None or role in roles:
                to_login = status in (302, 303) and response.headers["Location"].startswith("/login")
                expected_ok = status not in (400, 401, 403) and not to_login
            else:
                expected_ok = status == 403
            if not expected_ok:
                wrong.append((role, endpoint, method, status))
        assert not wrong, wrong
    finally:
        app.extensions["crm_db"].dispose()


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
    response = client.post(
        "/language", data={"locale": "zh", "csrf_token": csrf_token(client, "/customers"), "next": "/customers"}
    )
    assert response.status_code == 302
    html = client.get("/customers").get_data(as_text=True)
    assert "客户" in html
