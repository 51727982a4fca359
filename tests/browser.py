"""The browser journeys' shared parts: the app on a real port, Debian's Chromium through
Playwright, a user factory and screenshots."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from crm.audit import Actor
from tests.conftest import PASSWORD

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


@pytest.fixture
def live_app(sqlite_url, tmp_path):
    """The app on a real HTTP port, in a thread; yields (base URL, app)."""
    from werkzeug.serving import make_server

    from crm.app import create_app

    app = create_app({"env": "test", "database_url": sqlite_url})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # Polled every 50 ms, not 0.5 s: shutdown() at teardown waits for the next poll.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    app.extensions["crm_db"].dispose()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(locale="en-US")
    yield context.new_page()
    context.close()


def _user(app, role: str, email: str) -> str:
    from crm.auth.services import create_user

    with app.extensions["crm_db"].transaction() as session:
        create_user(session, Actor("system", "tests"), email, role, PASSWORD)
    return email


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
