"""The lock-out behind a proxy and its answer (issue 19, item 10): exactly CRM_PROXY_HOPS
proxies are trusted, so that an X-Forwarded-For a client writes itself does not make each
guess come from a new address; and a locked account answers as a wrong password does."""

from __future__ import annotations

import re

import pytest

from crm.app import create_app
from tests.auth_helpers import browser, field_errors


def _answer(response) -> tuple[int, list[str], str]:
    html = response.get_data(as_text=True)
    page = re.sub(r'value="[^"]*"', 'value=""', html)  # the CSRF token differs
    return response.status_code, field_errors(html), page


def test_a_locked_account_answers_exactly_as_an_unknown_one(app, make_user):
    _, email = make_user("admin")
    guesser = browser(app, "203.0.113.9")
    for _ in range(5):
        guesser.login(email, "not-the-password-1")
    locked = _answer(guesser.login(email))  # the right password, but this address is locked out
    wrong = _answer(browser(app, "198.51.100.1").login(email, "not-the-password-1"))
    unknown = _answer(browser(app, "198.51.100.2").login("nobody@test.crm", "not-the-password-1"))
    assert locked[0] == wrong[0] == unknown[0] == 401
    assert locked[1] == wrong[1] == unknown[1] == ["Wrong e-mail or password."]
    assert locked[2].replace(email, "") == unknown[2].replace("nobody@test.crm", "")


def test_an_account_paused_for_a_distributed_guess_answers_the_same(app, make_user, database):
    import datetime as dt

    from sqlalchemy import update

    from crm.models import User

    user_id, email = make_user("admin")
    with database.transaction() as session:
        session.execute(
            update(User)
            .where(User.id == user_id)
            .values(locked_until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
        )
    code, errors, _ = _answer(browser(app, "198.51.100.3").login(email))
    assert (code, errors) == (401, ["Wrong e-mail or password."])


def _through_proxies(app, forwarded_for: str, proxy: str = "10.0.0.2"):
    actions = browser(app, proxy)
    actions.client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return actions


@pytest.mark.parametrize("hops", [1, 2])
def test_a_forged_forwarded_for_does_not_escape_the_lock_out(db_url, make_user, hops):
    """Each guess writes a new X-Forwarded-For; the trusted proxies append what they saw. The
    app takes the address the outermost trusted proxy saw: the guesser's, every time."""
    app = create_app({"env": "test", "database_url": db_url, "behind_proxy": True, "proxy_hops": hops})
    try:
        _, email = make_user("account_manager")
        inner = ", 10.0.0.1" if hops == 2 else ""  # the outer proxy's address, as the inner one saw it
        for i in range(6):
            forged = f"192.0.2.{i + 1}"
            _through_proxies(app, f"{forged}, 203.0.113.9{inner}").login(email, "guess-guess-guess")
        attacker = _through_proxies(app, f"192.0.2.99, 203.0.113.9{inner}")
        assert attacker.login(email).status_code == 401  # locked, whatever it writes
        owner = _through_proxies(app, f"198.51.100.7{inner}")  # the owner, through the same proxies
        assert owner.login(email).status_code == 302
    finally:
        app.extensions["crm_db"].dispose()


def test_proxy_hops_is_a_setting(monkeypatch):
    from crm.config import ConfigError, load_settings

    monkeypatch.setenv("CRM_PROXY_HOPS", "2")
    assert load_settings({"env": "test"}).proxy_hops == 2
    monkeypatch.setenv("CRM_PROXY_HOPS", "0")
    with pytest.raises(ConfigError, match="CRM_PROXY_HOPS"):
        load_settings({"env": "test"})
    monkeypatch.delenv("CRM_PROXY_HOPS")
    assert load_settings({"env": "test"}).proxy_hops == 1
