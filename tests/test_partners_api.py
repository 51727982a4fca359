"""The partner API through a real HTTP client: every answer of the contract, on both databases."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import requests
from sqlalchemy import func, select, text, update

from crm import record_digests
from crm.models import AuditEvent
from partners import codes, services
from partners.models import Coupon, IdempotencyRecord, Redemption, RedemptionAttempt
from tests.clock_helpers import business_today
from tests.partners_helpers import ACTOR, issue, live_url, make_customer, make_partner, world  # noqa: F401

API = "/api/partners/v1"


def _h(key: str, idem: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    if idem is not None:
        headers["Idempotency-Key"] = idem
    return headers


def _redeem(base, key, body, idem=None):
    return requests.post(f"{base}{API}/redemptions", json=body, headers=_h(key, idem or uuid.uuid4().hex), timeout=10)


def _count(database, model, *where) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_lookup_answers_the_contract_fields_and_nothing_personal(live_url, world):
    r = requests.get(f"{live_url}{API}/coupons/{codes.display(world['code']).lower()}", headers=_h(world["key"]))
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"code", "status", "value", "currency", "expires_at"}
    assert body["code"] == world["code"] and body["status"] == "issued"
    assert body["value"] == "100.00" and body["currency"] == "CNY"
    assert "王" not in r.text and r.headers["Cache-Control"] == "no-store"


def test_401_without_or_with_a_wrong_or_revoked_key(live_url, world, database):
    url = f"{live_url}{API}/coupons/{world['code']}"
    assert requests.get(url, timeout=10).status_code == 401
    for bad in ("nope", world["key"][:-2] + "xx", "pk_000000000000_abc"):
        r = requests.get(url, headers=_h(bad), timeout=10)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    with database.transaction() as s:
        new_key = services.rotate_key(s, ACTOR, world["partner_id"])
    assert requests.get(url, headers=_h(world["key"]), timeout=10).status_code == 401
    assert requests.get(url, headers=_h(new_key), timeout=10).status_code == 200
    with database.transaction() as s:
        services.revoke_key(s, ACTOR, world["partner_id"])
    assert requests.get(url, headers=_h(new_key), timeout=10).status_code == 401


def test_another_partners_code_answers_exactly_like_an_unknown_one(live_url, world, database):
    _, other_key = make_partner(database)
    unknown = codes.new_code()
    for method in ("get", "post"):
        answers = []
        for code in (world["code"], unknown):
            if method == "get":
                r = requests.get(f"{live_url}{API}/coupons/{code}", headers=_h(other_key), timeout=10)
            else:
                r = _redeem(live_url, other_key, {"code": code})
            answers.append((r.status_code, r.json()))
        assert (
            answers[0]
            == answers[1]
            == (404, {"error": "not_found", "message": "There is no such coupon for this partner."})
        )
    assert _count(database, Coupon, Coupon.status == "issued") == 1


def test_redeem_then_409_already_redeemed_and_replay(live_url, world, database):
    body = {"code": world["code"], "amount": "80.00"}
    first = _redeem(live_url, world["key"], body, "key-1")
    assert first.status_code == 201
    assert set(first.json()) == {"redemption_id", "code", "redeemed_at"}
    replay = _redeem(live_url, world["key"], body, "key-1")
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert replay.headers["Idempotent-Replayed"] == "true"
    again = _redeem(live_url, world["key"], body, "key-2")
    assert (again.status_code, again.json()["error"]) == (409, "already_redeemed")
    mismatch = _redeem(live_url, world["key"], {"code": world["code"]}, "key-1")
    assert mismatch.status_code == 422 and mismatch.json()["error"] == "idempotency_mismatch"
    assert "Idempotency-Key" in mismatch.json()["fields"]
    assert _count(database, Redemption) == 1
    assert _count(database, IdempotencyRecord) == 2
    assert _count(database, RedemptionAttempt) == 4
    assert _count(database, AuditEvent, AuditEvent.action == "coupon.redeem") == 4


def test_a_key_reused_for_another_redeemable_code_redeems_nothing(live_url, world, database):
    """The second call could redeem its coupon: that redemption is undone, the first answer's
    key says 422, and the coupon stays as it was (its digest too)."""
    other = issue(database, world["customer_id"], world["partner_id"])
    first = _redeem(live_url, world["key"], {"code": world["code"]}, "key-1")
    assert first.status_code == 201
    reused = _redeem(live_url, world["key"], {"code": other}, "key-1")
    assert (reused.status_code, reused.json()["error"]) == (422, "idempotency_mismatch")
    assert _count(database, Coupon, Coupon.code == other, Coupon.status == "issued") == 1
    assert _count(database, Redemption) == 1
    assert _count(database, IdempotencyRecord) == 1
    assert _count(database, RedemptionAttempt) == 2
    assert _count(database, AuditEvent, AuditEvent.action == "coupon.redeem") == 2
    with database.session() as s:
        assert record_digests.verify(s, workers=1) == []
    assert _redeem(live_url, world["key"], {"code": other}, "key-2").status_code == 201


def test_a_redemption_waits_for_a_lock_only_the_api_s_wait_then_503(db_url, world, database):
    """A till does not hang behind a long transaction: past api_lock_wait_seconds it is told to
    retry, nothing changed; once the lock is gone the same call redeems."""
    from crm.app import create_app

    app = create_app({"env": "test", "database_url": db_url, "api_lock_wait_seconds": 1})
    client, headers = app.test_client(), _h(world["key"], "key-1")
    try:
        with database.transaction() as holder:  # SQLite: the write lock; PostgreSQL: the coupon's row
            holder.execute(text("UPDATE coupons SET value = value WHERE code = :code"), {"code": world["code"]})
            started = time.monotonic()
            busy = client.post(f"{API}/redemptions", json={"code": world["code"]}, headers=headers)
            waited = time.monotonic() - started
        assert (busy.status_code, busy.get_json()["error"]) == (503, "unavailable")
        assert busy.headers["Retry-After"] and 0.9 < waited < 10
        assert _count(database, Coupon, Coupon.status == "issued") == 1
        assert client.post(f"{API}/redemptions", json={"code": world["code"]}, headers=headers).status_code == 201
    finally:
        app.extensions["crm_db"].dispose()


def test_409_expired_and_not_redeemable(live_url, world, database):
    other = issue(database, world["customer_id"], world["partner_id"])
    with database.transaction() as s:
        s.execute(
            update(Coupon)
            .where(Coupon.code == world["code"])
            .values(expires_on=business_today() - dt.timedelta(days=2))
        )
        coupon_id = s.scalar(select(Coupon.id).where(Coupon.code == other))
        assert services.void_coupon(s, ACTOR, coupon_id, "left VIP")
    r = _redeem(live_url, world["key"], {"code": world["code"]})
    assert (r.status_code, r.json()["error"]) == (409, "expired")
    assert (
        requests.get(f"{live_url}{API}/coupons/{world['code']}", headers=_h(world["key"]), timeout=10).json()["status"]
        == "expired"
    )
    r = _redeem(live_url, world["key"], {"code": other})
    assert (r.status_code, r.json()["error"]) == (409, "not_redeemable")
    with database.transaction() as s:  # the daily job marks the expired one
        assert services.expire_coupons(s, ACTOR, business_today()) == 1
        assert services.expire_coupons(s, ACTOR, business_today()) == 0


def test_422_field_errors(live_url, world, database):
    key = world["key"]
    r = requests.post(f"{live_url}{API}/redemptions", json={"code": world["code"]}, headers=_h(key), timeout=10)
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["fields"]
    cases = [
        ({}, "code"),
        ({"code": world["code"], "amount": "12.345"}, "amount"),
        ({"code": world["code"], "amount": "-1"}, "amount"),
        ({"code": world["code"], "amount": True}, "amount"),
        ({"code": world["code"], "store_id": "NOPE"}, "store_id"),
        ({"code": world["code"], "x": 1}, "x"),
        ({"code": world["code"], "amount": "100.01"}, "amount"),
        ({"code": world["code"][:-1] + ("2" if world["code"][-1] != "2" else "3")}, "code"),
        ({"code": "0OIL1" + world["code"][5:]}, "code"),
    ]
    for body, field in cases:
        r = _redeem(live_url, key, body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"] == "invalid" and field in r.json()["fields"], (body, r.json())
    r = requests.post(f"{live_url}{API}/redemptions", data="not json", headers=_h(key, "k"), timeout=10)
    assert r.status_code == 422 and "body" in r.json()["fields"]
    r = requests.get(f"{live_url}{API}/coupons/SHORT", headers=_h(key), timeout=10)
    assert r.status_code == 422 and "code" in r.json()["fields"]
    assert _count(database, Redemption) == 0
    assert _count(database, Coupon, Coupon.status == "issued") == 1


def test_store_and_amount_are_recorded(live_url, world, database):
    with database.transaction() as s:
        services.add_store(s, ACTOR, world["partner_id"], "SH-01", "静安店", "上海")
    r = _redeem(live_url, world["key"], {"code": world["code"], "amount": 55, "store_id": "SH-01"})
    assert r.status_code == 201
    with database.session() as s:
        red = s.get(Redemption, r.json()["redemption_id"])
        assert (red.store_id, str(red.amount)) == ("SH-01", "55.00")


def test_void_within_the_window_then_409s_and_404(live_url, world, database):
    red_id = _redeem(live_url, world["key"], {"code": world["code"]}).json()["redemption_id"]
    url = f"{live_url}{API}/redemptions/{red_id}/void"
    r = requests.post(url, headers=_h(world["key"]), json={"reason": "wrong table"}, timeout=10)
    assert r.status_code == 200 and r.json()["coupon_status"] == "issued"
    r = requests.post(url, headers=_h(world["key"]), timeout=10)
    assert (r.status_code, r.json()["error"]) == (409, "already_voided")
    second = _redeem(live_url, world["key"], {"code": world["code"]})  # redeemable again
    assert second.status_code == 201
    with database.transaction() as s:
        s.execute(
            update(Redemption)
            .where(Redemption.id == second.json()["redemption_id"])
            .values(redeemed_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=24, seconds=1))
        )
    r = requests.post(
        f"{live_url}{API}/redemptions/{second.json()['redemption_id']}/void", headers=_h(world["key"]), timeout=10
    )
    assert (r.status_code, r.json()["error"]) == (409, "void_window_closed")
    _, other_key = make_partner(database)
    for key, rid in ((other_key, red_id), (world["key"], 999999), (world["key"], 2**40)):
        r = requests.post(f"{live_url}{API}/redemptions/{rid}/void", headers=_h(key), timeout=10)
        assert (r.status_code, r.json()["error"]) == (404, "not_found")


def test_a_void_answers_the_coupons_status_as_it_is(live_url, world, database):
    """A redemption voided after its coupon left 'redeemed' some other way leaves the coupon as it
    is, and the answer says so rather than 'issued'."""
    red_id = _redeem(live_url, world["key"], {"code": world["code"]}).json()["redemption_id"]
    with database.transaction() as s:
        s.execute(update(Coupon).where(Coupon.code == world["code"]).values(status="expired"))
    r = requests.post(f"{live_url}{API}/redemptions/{red_id}/void", headers=_h(world["key"]), timeout=10)
    assert r.status_code == 200 and r.json()["coupon_status"] == "expired"
    with database.session() as s:
        assert s.scalar(select(Coupon.status).where(Coupon.code == world["code"])) == "expired"


def test_429_with_retry_after(db_url, world):
    from crm.app import create_app
    from tests.partners_helpers import live_url as _unused  # noqa: F401

    app = create_app({"env": "test", "database_url": db_url, "PARTNER_API_RATE": (0.5, 2)})
    client = app.test_client()
    url = f"{API}/coupons/{world['code']}"
    statuses = [client.get(url, headers=_h(world["key"])).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    r = client.get(url, headers=_h(world["key"]))
    assert r.json["error"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    app.extensions["crm_db"].dispose()


def test_503_json_when_the_database_is_unreachable(db_url, tmp_path):
    from crm.app import create_app

    url = (
        f"sqlite:///{tmp_path}/missing/dir/x.sqlite3"
        if db_url.startswith("sqlite")
        else "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    )
    app = create_app({"env": "test", "database_url": url})
    r = app.test_client().get(f"{API}/coupons/{codes.new_code()}", headers=_h("pk_abcdefabcdef_x"))
    assert r.status_code == 503 and r.json["error"] == "unavailable"


def test_openapi_document_is_served(live_url, world):
    r = requests.get(f"{live_url}{API}/openapi.json", headers=_h(world["key"]), timeout=10)
    assert r.status_code == 200 and r.json()["openapi"].startswith("3.")
    assert {"/coupons/{code}", "/redemptions", "/redemptions/{redemption_id}/void"} <= set(r.json()["paths"])


def test_a_redemption_whose_audit_event_fails_leaves_nothing_behind(live_url, world, database):
    """The API's write transaction is one ordinary transaction: when its audit event cannot be
    written (here: its table is gone), the redemption, its attempt row and its stored answer
    roll back with it; once the trail can be written again the same key redeems."""
    from crm import audit

    with database.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events RENAME TO audit_events_away"))
    idem = uuid.uuid4().hex
    r = _redeem(live_url, world["key"], {"code": world["code"]}, idem)
    assert r.status_code >= 500
    assert _count(database, Redemption) == 0 and _count(database, RedemptionAttempt) == 0
    assert _count(database, IdempotencyRecord) == 0
    with database.session() as s:
        assert s.scalar(select(Coupon.status).where(Coupon.code == world["code"])) == "issued"
    with database.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events_away RENAME TO audit_events"))
    r = _redeem(live_url, world["key"], {"code": world["code"]}, idem)
    assert r.status_code == 201 and _count(database, Redemption) == 1
    with database.session() as s:
        assert audit.verify(s).ok
