"""Exactly-once under real concurrency, over real HTTP, on both databases."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from crm import audit
from crm.models import AuditEvent
from partners.models import Coupon, Redemption, RedemptionAttempt
from tests.partners_helpers import issue, live_url, unlimited_app, world  # noqa: F401

API = "/api/partners/v1"


@pytest.fixture
def app(unlimited_app):
    return unlimited_app


def _count(database, model, *where) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_200_redemptions_of_one_code_from_20_threads(live_url, world, database):
    local = threading.local()

    def redeem(_):
        if not hasattr(local, "http"):
            local.http = requests.Session()
        headers = {"Authorization": f"Bearer {world['key']}", "Idempotency-Key": uuid.uuid4().hex}
        while True:
            r = local.http.post(
                f"{live_url}{API}/redemptions", json={"code": world["code"]}, timeout=60, headers=headers
            )
            if r.status_code != 503:
                return r.status_code, r.json().get("error")
            # The write lock was held past the API's wait (a loaded machine): nothing was changed,
            # and the contract's partner retries with the same key after Retry-After.
            assert r.headers["Retry-After"]
            time.sleep(0.2)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = Counter(pool.map(redeem, range(200)))
    assert answers == {(201, None): 1, (409, "already_redeemed"): 199}, answers
    assert _count(database, Redemption) == 1
    assert _count(database, Coupon, Coupon.status == "redeemed") == 1
    assert _count(database, RedemptionAttempt) == 200
    assert _count(database, RedemptionAttempt, RedemptionAttempt.outcome == "redeemed") == 1
    assert _count(database, AuditEvent, AuditEvent.action == "coupon.redeem") == 200
    with database.session() as s:
        assert audit.verify(s).ok


def test_a_redemption_voided_twice_at_once_is_voided_once(live_url, world, database):
    headers = {"Authorization": f"Bearer {world['key']}"}
    codes = [world["code"]] + [issue(database, world["customer_id"], world["partner_id"]) for _ in range(4)]
    for code in codes:
        rid = requests.post(
            f"{live_url}{API}/redemptions",
            json={"code": code},
            timeout=10,
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        ).json()["redemption_id"]
        barrier = threading.Barrier(2)

        def void(_, barrier=barrier, rid=rid):
            barrier.wait()
            r = requests.post(f"{live_url}{API}/redemptions/{rid}/void", headers=headers, timeout=30)
            return r.status_code, r.json().get("error")

        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = Counter(pool.map(void, range(2)))
        assert answers == {(200, None): 1, (409, "already_voided"): 1}, answers
    assert _count(database, Redemption, Redemption.voided_at.is_not(None)) == 5
    assert _count(database, Coupon, Coupon.status == "issued") == 5
    assert _count(database, AuditEvent, AuditEvent.action == "coupon.void") == 10


def test_the_same_idempotency_key_sent_concurrently_redeems_once(live_url, world, database):
    headers = {"Authorization": f"Bearer {world['key']}", "Idempotency-Key": "same-key"}

    def redeem(_):
        r = requests.post(f"{live_url}{API}/redemptions", json={"code": world["code"]}, headers=headers, timeout=30)
        return r.status_code, r.json()["redemption_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = set(pool.map(redeem, range(16)))
    assert len(answers) == 1 and next(iter(answers))[0] == 201
    assert _count(database, Redemption) == 1
