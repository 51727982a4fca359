"""Headers, cookie flags, session timeouts, request limits, production settings."""

from __future__ import annotations

import time

import pytest

from crm.auth import sessions
from crm.config import ConfigError, load_settings


def test_every_security_header_on_pages_and_api(client, login_as):
    login_as("admin")
    for path in ("/login", "/customers", "/api/partners/v1/coupons/X"):
        r = client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in r.headers  # plain HTTP: no HSTS


def test_session_cookie_flags_and_renewal_at_login(client, make_user):
    from tests.conftest import AuthActions

    _, email = make_user("admin")
    client.get("/login")
    response = AuthActions(client).login(email)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_behind_an_https_proxy_cookies_are_secure_and_hsts_is_sent(db_url, make_user):
    from crm.app import create_app
    from tests.conftest import AuthActions

    app = create_app({"env": "test", "database_url": db_url, "behind_proxy": True})
    client = app.test_client()
    client.environ_base.update({"HTTP_X_FORWARDED_PROTO": "https", "wsgi.url_scheme": "http"})
    _, email = make_user("admin")
    response = AuthActions(client).login(email)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie
    assert "max-age=" in client.get("/login").headers["Strict-Transport-Security"]
    app.extensions["crm_db"].dispose()


@pytest.mark.parametrize("field", ["seen_at", "login_at"])
def test_idle_and_absolute_timeouts_end_the_session(client, login_as, field):
    login_as("admin")
    assert client.get("/customers").status_code == 200
    with client.session_transaction() as s:
        limit = sessions.IDLE_SECONDS if field == "seen_at" else sessions.ABSOLUTE_SECONDS
        s[field] = int(time.time()) - limit - 5
    response = client.get("/customers")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/customers").status_code == 302  # logged out for good


def test_request_size_is_limited(client, app):
    assert app.config["MAX_CONTENT_LENGTH"] <= 512 * 1024 * 1024
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/login", data={"email": "a@b.cn", "password": "a" * 5000})
    assert response.status_code == 413 and "too large" in response.get_data(as_text=True)


def test_no_default_secret_outside_development(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"env": "production"})
    assert load_settings({"env": "production", "secret_key": "x" * 64}).secret_key == "x" * 64
