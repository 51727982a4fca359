"""Rate limits by Flask-Limiter (issue 19, item 8): one count across processes when the
storage is Redis, wrong API keys counted per address, log-ins per address, searches per user.

The in-process tests use the default storage (memory://), new for each app: no count leaks
from one test to the next. The two-process test uses Redis (CRM_TEST_REDIS_URL, which
.ci/run sets) under a key prefix of its own, deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from unittest import mock

import pytest
import requests

from crm.app import create_app
from tests.auth_helpers import browser, logged_in
from tests.partners_helpers import issue, make_customer, make_partner

API = "/api/partners/v1"
REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def limited_app(db_url):
    """The app with low limits, so that a test reaches them in a few calls."""
    app = create_app(
        {
            "env": "test",
            "database_url": db_url,
            "LOGIN_RATE_LIMIT": "4 per minute",
            "SEARCH_RATE_LIMIT": "3 per minute",
            "PARTNER_BAD_KEY_LIMIT": "20 per 10 minutes",
        }
    )
    yield app
    app.extensions["crm_db"].dispose()


def _bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_a_flood_of_wrong_keys_gets_429_and_then_even_a_right_key_from_there(app, database):
    """1,000 calls with wrong keys must not all be answered 401: the address is stopped, and a
    right key from it gets 429 too (else a guess that hit would show). Another address is free."""
    customer_id = make_customer(database)
    partner_id, key = make_partner(database)
    code = issue(database, customer_id, partner_id)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    statuses = [client.get(f"{API}/coupons/{code}", headers=_bearer(f"guess-{i}")).status_code for i in range(1000)]
    assert statuses[0] == 401 and statuses[-1] == 429
    first = statuses.index(429)
    assert first <= 200 and set(statuses[first:]) == {429}
    refused = client.get(f"{API}/coupons/{code}", headers=_bearer(key))
    assert refused.status_code == 429
    assert refused.json["error"] == "rate_limited" and set(refused.json) == {"error", "message"}
    assert int(refused.headers["Retry-After"]) >= 1
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.5"
    assert other.get(f"{API}/coupons/{code}", headers=_bearer(key)).status_code == 200


def test_log_in_attempts_are_limited_per_address(limited_app, make_user):
    """Failed log-ins at different accounts from one address (a password spray): stopped after
    the limit, with 429 and the form; another address, and a success, are not counted."""
    _, email = make_user("admin")
    sprayer = browser(limited_app, "203.0.113.77")
    statuses = [sprayer.login(f"user{i}@test.crm", "Spring-2024-Guess").status_code for i in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]
    assert sprayer.login(email).status_code == 429  # the right password too: the address waits
    page = sprayer.login(email)
    assert "Too many failed log-ins from your address" in page.get_data(as_text=True)
    assert int(page.headers["Retry-After"]) >= 1
    for _ in range(6):  # successes are not counted
        owner = logged_in(limited_app, email, "198.51.100.8")
        owner.logout()


def test_the_log_in_limit_holds_across_the_end_of_a_minute(limited_app):
    """Four failures in the last second of a minute and a fifth just after it: the fifth is
    refused, as the limit says (four in any minute), wherever the clock's minutes fall."""
    sprayer = browser(limited_app, "203.0.113.78")
    boundary = (int(time.time()) // 60 + 1) * 60
    statuses = []
    for offset in (-0.4, -0.3, -0.2, -0.1, 0.05):
        with mock.patch("time.time", return_value=boundary + offset):
            statuses.append(sprayer.login(f"user{offset}@test.crm", "Spring-2024-Guess").status_code)
    assert statuses == [401, 401, 401, 401, 429]


def test_customer_searches_are_limited_per_user(limited_app, make_user):
    _, email = make_user("underwriter")
    _, other_email = make_user("underwriter")
    user = logged_in(limited_app, email)
    statuses = [user.client.get(f"/customers?q=Wang{i}").status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert user.client.get("/customers").status_code == 200  # the list itself is no search
    other = logged_in(limited_app, other_email)  # the same address, another user
    assert other.client.get("/customers?q=Li").status_code == 200


def _start_server(env: dict) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.ratelimit_server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("port "), f"the server did not start: {line!r}"
    return process, f"http://127.0.0.1:{line.split()[1]}"


@pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set CRM_TEST_REDIS_URL (.ci/run does)")
def test_the_limit_of_a_key_holds_across_two_server_processes(db_url, database):
    """Two server processes on loopback ports share Redis: calls of one key split between them
    reach 429 at the limit, counted together (with per-process counts each would allow it)."""
    import redis

    customer_id = make_customer(database)
    partner_id, key = make_partner(database)
    code = issue(database, customer_id, partner_id)
    prefix = f"crm-test-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "CRM_ENV": "test",
        "DATABASE_URL": db_url,
        "CRM_RATELIMIT_STORAGE_URI": REDIS_URL,
        "CRM_RATELIMIT_KEY_PREFIX": prefix,
        "TEST_PARTNER_API_RATE": "0.1,10",
    }  # 10 per 100 s
    servers = [_start_server(env) for _ in range(2)]
    try:
        statuses = []
        for i in range(16):
            _, url = servers[i % 2]
            statuses.append(requests.get(f"{url}{API}/coupons/{code}", headers=_bearer(key), timeout=30).status_code)
        assert statuses == [200] * 10 + [429] * 6
        answer = requests.get(f"{servers[1][1]}{API}/coupons/{code}", headers=_bearer(key), timeout=30)
        assert answer.status_code == 429 and answer.json()["error"] == "rate_limited"
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=30)
        store = redis.Redis.from_url(REDIS_URL)
        keys = list(store.scan_iter(f"{prefix}*"))
        assert keys, "nothing was counted in Redis"
        store.delete(*keys)
