"""Server-side sessions: the cookie is a random id; log-out, a password change, a deactivation
and an admin end a session for good (issue 19, item 2)."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import func, select

from crm.models import AuditEvent, UserSession
from tests.auth_helpers import logged_in, post_form, session_cookie, with_cookie


def _opens_customers(app, cookie: str) -> bool:
    response = with_cookie(app, cookie).get("/customers")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def test_a_cookie_copied_before_logout_opens_nothing_afterwards(app, make_user, database):
    _, email = make_user("account_manager")
    user = logged_in(app, email)
    copied = session_cookie(user)
    assert _opens_customers(app, copied)
    assert user.logout().status_code == 302
    assert user.client.get("/customers").status_code == 302
    assert not _opens_customers(app, copied)  # the copy died with the session


def test_the_cookie_is_a_random_id_and_the_table_keeps_only_its_hash(app, make_user, database):
    user_id, email = make_user("admin")
    cookie = session_cookie(logged_in(app, email))
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie)  # 32 random bytes, nothing else in it
    with database.session() as session:
        row = session.scalar(select(UserSession).where(UserSession.user_id == user_id))
    assert row.token_hash == hashlib.sha256(cookie.encode()).hexdigest()
    assert cookie not in row.token_hash and cookie not in row.data


def test_a_new_id_at_log_in(app, make_user):
    """The id a visitor had before logging in (the log-in form's) opens nothing after it."""
    from tests.auth_helpers import browser

    _, email = make_user("admin")
    visitor = browser(app)
    visitor.client.get("/login")
    before = session_cookie(visitor)
    assert visitor.login(email).status_code == 302
    assert session_cookie(visitor) != before
    assert not _opens_customers(app, before)


def test_a_password_change_ends_every_session_of_the_user(app, make_user):
    from tests.conftest import PASSWORD

    _, email = make_user("underwriter")
    here, elsewhere = logged_in(app, email), logged_in(app, email, "198.51.100.4")
    copied, other = session_cookie(here), session_cookie(elsewhere)
    response = post_form(
        here.client,
        "/account/password",
        {"current": PASSWORD, "new": "Quiet-Lantern-Moss-81", "confirm": "Quiet-Lantern-Moss-81"},
    )
    assert response.status_code == 302
    assert here.client.get("/customers").status_code == 200  # this browser goes on, under a new id
    assert session_cookie(here) != copied
    assert not _opens_customers(app, copied)
    assert not _opens_customers(app, other)
    here.logout()
    assert here.login(email, "Quiet-Lantern-Moss-81").status_code == 302


def test_deactivating_a_user_ends_their_sessions(app, make_user, database):
    user_id, email = make_user("account_manager")
    _, admin_email = make_user("admin")
    user = logged_in(app, email)
    copied = session_cookie(user)
    admin = logged_in(app, admin_email, "192.0.2.50")
    assert post_form(admin.client, f"/admin/users/{user_id}/active/0").status_code == 302
    assert user.client.get("/customers").status_code == 302
    assert not _opens_customers(app, copied)
    assert user.login(email).status_code == 401  # and cannot come back
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user_id)) == 0
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(user_id))).all()
    assert "user.deactivate" in actions


def test_an_admin_sees_a_users_sessions_and_ends_one(app, make_user, database):
    user_id, email = make_user("risk_officer")
    _, admin_email = make_user("admin")
    office = logged_in(app, email, "198.51.100.7", "Office-Browser/1.0")
    home = logged_in(app, email, "203.0.113.20", "Home-Browser/2.0")
    admin = logged_in(app, admin_email, "192.0.2.50")
    page = admin.client.get(f"/admin/users/{user_id}/sessions")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for seen in ("198.51.100.7", "Office-Browser/1.0", "203.0.113.20", "Home-Browser/2.0"):
        assert seen in html
    ids = re.findall(r'data-session="(\d+)"', html)
    assert len(ids) == 2
    with database.session() as session:
        office_id = session.scalar(
            select(UserSession.id).where(UserSession.user_id == user_id, UserSession.ip == "198.51.100.7")
        )
    response = post_form(admin.client, f"/admin/users/{user_id}/sessions/{office_id}/end")
    assert response.status_code == 302
    assert office.client.get("/customers").status_code == 302  # ended
    assert home.client.get("/customers").status_code == 200  # the other one goes on
    with database.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "user.sessions_end"))
    assert event is not None and event.entity_id == str(user_id) and event.actor_id is not None


def test_only_an_admin_ends_sessions_and_only_with_the_csrf_token(app, make_user):
    user_id, email = make_user("account_manager")
    _, admin_email = make_user("admin")
    user = logged_in(app, email)
    manager = logged_in(app, make_user("account_manager")[1], "192.0.2.9")
    assert manager.client.get(f"/admin/users/{user_id}/sessions").status_code == 403
    assert post_form(manager.client, f"/admin/users/{user_id}/sessions/end").status_code == 403
    admin = logged_in(app, admin_email, "192.0.2.50")
    assert admin.client.post(f"/admin/users/{user_id}/sessions/end").status_code == 400  # no token
    assert user.client.get("/customers").status_code == 200


def test_the_partner_api_gets_no_session(app, database):
    client = app.test_client()
    response = client.get("/api/partners/v1/openapi.json", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_saving_the_session_does_not_wait_on_the_requests_own_transaction(app, make_user):
    """A write request that answers without committing (a refused password change) while its
    session changed (last seen, once a minute): on SQLite it holds the write lock until
    teardown, and the session row must not wait for it (30 s, then 'database is locked')."""
    import time

    from tests.conftest import PASSWORD, csrf_token

    _, email = make_user("admin")
    user = logged_in(app, email)
    token = csrf_token(user.client, "/account/password")
    with user.client.session_transaction() as stored:
        stored["seen_at"] = int(time.time()) - 120  # so that this request writes the session
    started = time.monotonic()
    response = user.client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": "not-" + PASSWORD,
            "new": "Quiet-Lantern-Moss-81",
            "confirm": "Quiet-Lantern-Moss-81",
        },
    )
    assert response.status_code == 422
    assert time.monotonic() - started < 10
    assert user.client.get("/customers").status_code == 200


def test_a_browser_with_a_session_gets_the_503_page_when_the_database_is_down():
    """Reading the session fails before any view runs: the answer is still the clear 503 page
    (not a bare 500), and no new cookie is handed out."""
    from crm.app import create_app

    app = create_app({"env": "test", "database_url": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"})
    client = app.test_client()
    client.set_cookie("session", "A" * 43)
    response = client.get("/customers")
    assert response.status_code == 503
    assert "database is not reachable" in response.get_data(as_text=True)
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
