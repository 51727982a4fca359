"""Fixtures: a fresh app per test on a real database — SQLite always, PostgreSQL when
CRM_TEST_POSTGRES_URL is set (CI sets it; CRM_REQUIRE_POSTGRES=1 makes its absence an error)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import uuid

# An instance directory of its own for each process of the run: xdist's workers inherit the
# controller's environment, and must not share the demo log-ins file or a secret. (This module
# is imported twice, as conftest and as tests.conftest: the second import keeps the first's.)
_OWNER = os.environ.get("PYTEST_XDIST_WORKER", "main")
if os.environ.get("CRM_TEST_INSTANCE_OWNER") != _OWNER and (_OWNER != "main" or "CRM_INSTANCE_DIR" not in os.environ):
    os.environ["CRM_INSTANCE_DIR"] = tempfile.mkdtemp(prefix=f"crm-test-instance-{_OWNER}-")
    os.environ["CRM_TEST_INSTANCE_OWNER"] = _OWNER
os.environ["CRM_ENV"] = "test"

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from crm.migrate import upgrade  # noqa: E402

PG_URL = os.environ.get("CRM_TEST_POSTGRES_URL")
PG_SKIP_REASON = "PostgreSQL tests need CRM_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"


def pytest_configure(config):
    if os.environ.get("CRM_REQUIRE_POSTGRES") == "1" and not PG_URL:
        raise pytest.UsageError("CRM_REQUIRE_POSTGRES=1 but CRM_TEST_POSTGRES_URL is not set")
    from flask import request_finished

    from tests.pii_scan import RECORDER

    request_finished.connect(RECORDER.response)
    logging.getLogger().addHandler(RECORDER)
    # Users made without an app (factories, services) get the tests' cheap hash too.
    from crm.auth import passwords
    from crm.config import TEST_PASSWORD_HASH

    passwords.use_method(TEST_PASSWORD_HASH)


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if any page, answer or log line showed personal data it should not. Under
    xdist each worker hands its findings to the controller (pytest_testnodedown), which
    reports them all and sets the run's exit status."""
    from tests.pii_scan import RECORDER

    if hasattr(session.config, "workeroutput"):  # an xdist worker: the controller decides
        session.config.workeroutput["pii_findings"] = list(RECORDER.findings)
        session.config.workeroutput["pii_responses"] = RECORDER.responses
        return
    if RECORDER.findings:
        print(f"\nPERSONAL DATA SCAN: {len(RECORDER.findings)} unmasked values in {RECORDER.responses} responses:")
        for line in RECORDER.findings[:50]:
            print("  " + line)
        session.exitstatus = 1
    elif RECORDER.responses:
        print(f"\npersonal data scan: {RECORDER.responses} responses and every log line checked, nothing unmasked")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist (controller): gather a finished worker's personal-data findings."""
    from tests.pii_scan import RECORDER

    output = getattr(node, "workeroutput", {})
    RECORDER.findings.extend(output.get("pii_findings", []))
    RECORDER.responses += output.get("pii_responses", 0)


# --- databases -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, copied for each test (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database():
    """A throw-away PostgreSQL database for this test session, migrated once."""
    if not PG_URL:
        pytest.skip(PG_SKIP_REASON)
    name = f"crm_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    for engine in _PG_ENGINES.values():
        engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


_PG_ENGINES: dict = {}


def _reset_postgres(url: str) -> None:
    """Empty every table between tests. DELETE with triggers and foreign keys off (replica
    role) is several times faster than TRUNCATE on tables this small; sequences restart. The
    statements go in one round trip (a tenth of the time of one per table: 4 ms, not 40)."""
    engine = _PG_ENGINES.get(url) or _PG_ENGINES.setdefault(url, create_engine(url))
    with engine.begin() as conn:
        tables, sequences = conn.execute(
            text(
                "SELECT (SELECT array_agg(tablename::text) FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'), "
                "(SELECT array_agg(sequencename::text) FROM pg_sequences WHERE schemaname = 'public')"
            )
        ).one()
        statements = [
            "SET LOCAL session_replication_role = replica",
            "SET LOCAL synchronous_commit = off",
            *(f'DELETE FROM "{table}"' for table in tables or ()),
            *(f"SELECT setval('\"{sequence}\"', 1, false)" for sequence in sequences or ()),
            f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{'0' * 64}')",
        ]
        conn.exec_driver_sql("; ".join(statements))  # no parameters: one simple query


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """The URL of an empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "crm.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _reset_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    """Only SQLite, for tests of the app shell where the database kind does not matter."""
    path = tmp_path / "crm.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


# --- the browser ---


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, launched once per test process (as pytest-playwright does); each test
    gets a context of its own (below), so no cookie or storage crosses from one to the next."""
    chromium_path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium_path):
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


# --- app -----------------------------------------------------------------------------


@pytest.fixture
def app(db_url):
    from crm.app import create_app

    app = create_app({"env": "test", "database_url": db_url})
    yield app
    app.extensions["crm_db"].dispose()


@pytest.fixture
def database(app):
    return app.extensions["crm_db"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


PASSWORD = "Sturdy-Password-42"


@pytest.fixture
def make_user(database):
    """Factory: make_user('account_manager') → the new user's e-mail (password PASSWORD)."""
    from crm.audit import Actor
    from crm.auth.services import create_user

    def make(role: str, email: str | None = None, **kwargs):
        email = email or f"{role}-{uuid.uuid4().hex[:6]}@test.crm"
        with database.transaction() as session:
            user = create_user(session, Actor("system", "tests"), email, role, PASSWORD, **kwargs)
            return user.id, email

    return make


CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html) or re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, email: str, password: str = PASSWORD, follow: bool = False):
        token = csrf_token(self.client)
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=follow
        )

    def logout(self):
        token = csrf_token(self.client, "/customers")
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def login_as(make_user, auth):
    """Log the test client in with a new user of ``role``; returns (user id, e-mail)."""

    def login(role: str, **kwargs):
        user_id, email = make_user(role, **kwargs)
        response = auth.login(email)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return user_id, email

    return login
