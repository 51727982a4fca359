"""Helpers for the tests of sessions, passwords and rate limits (tests/test_sessions.py,
tests/test_auth_*.py, tests/test_ratelimit.py)."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD, AuthActions, csrf_token


def browser(app, address: str = "127.0.0.1", agent: str = "pytest-browser") -> AuthActions:
    """A separate browser (its own cookies) at ``address``."""
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": address, "HTTP_USER_AGENT": agent})
    return AuthActions(client)


def logged_in(app, email: str, address: str = "127.0.0.1", agent: str = "pytest-browser") -> AuthActions:
    actions = browser(app, address, agent)
    response = actions.login(email)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return actions


def session_cookie(actions: AuthActions) -> str:
    cookie = actions.client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def with_cookie(app, value: str):
    """A new browser holding only a copy of a session cookie."""
    client = app.test_client()
    client.set_cookie("session", value)
    return client


def post_form(client, path: str, data: dict | None = None, token_page: str = "/customers"):
    """POST ``data`` to ``path`` with the CSRF token of ``token_page``."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, token_page)})


def field_errors(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", e).strip() for e in re.findall(r'class="invalid-feedback d-block">([^<]*)<', html)]


__all__ = ["PASSWORD", "browser", "logged_in", "session_cookie", "with_cookie", "post_form", "field_errors"]
