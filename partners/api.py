"""The partner API /api/partners/v1 (see /work/shared/CONTRACT.md and partners/openapi.py).

Thin: authenticate the bearer key, apply the per-key rate limit, parse and validate the JSON,
call one service, commit, answer. Every answer is JSON; errors are {"error", "message"}
(422 adds "fields"). An unreachable database answers 503 (crm/errors.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import current_app, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from crm import audit
from crm.clock import business_today
from crm.db import get_db
from crm.limits import KIB, set_body_limit
from partners import api_bp as bp
from partners import codes, ratelimit
from partners import redeem as redemptions
from partners.models import Coupon
from partners.openapi import DOCUMENT
from partners.services import ApiCaller, authenticate_key

NAV: list = []

_KEY_RE = re.compile(r"^[\x21-\x7e]{1,100}$")
_STORE_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
_MAX_ID = 2**31 - 1
MAX_BODY = 64 * KIB  # the contract's limit of a request body
RETRY_AFTER_BUSY = 2  # seconds a caller is told to wait when the database was busy


@bp.record_once
def _exempt_and_limit(state) -> None:
    from crm.extensions import csrf

    csrf.exempt(bp)  # bearer keys, not cookies: there is nothing for a forged request to ride on
    set_body_limit(state.app, bp.name, MAX_BODY)


def error(status: int, code: str, message: str, fields: dict | None = None, headers: dict | None = None):
    body = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    return jsonify(body), status, headers or {}


def _session() -> Session:
    """The request's one session, closed at the request's teardown. Its connections wait for
    another transaction's lock at most api_lock_wait_seconds: a partner's till must not hang
    while a long import or run holds the write lock, but answer 503 with Retry-After (below)."""
    session = g.get("api_session")
    if session is None:
        wait = current_app.config["CRM_SETTINGS"].api_lock_wait_seconds
        session = g.api_session = Session(get_db().impatient(wait))
    return session


@bp.teardown_request
def _close_session(_exc) -> None:
    session = g.pop("api_session", None)
    if session is not None:
        session.close()  # a transaction left open rolls back here


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    return error(413, "payload_too_large", f"The request body is larger than {MAX_BODY // KIB} KiB.")


@bp.errorhandler(OperationalError)
def _busy(_exc):
    """The database was locked past the wait (or is unreachable): nothing was changed."""
    return error(
        503,
        "unavailable",
        "The database is busy or unreachable; nothing was changed. Retry later.",
        headers={"Retry-After": str(RETRY_AFTER_BUSY)},
    )


def _caller(presented: str) -> ApiCaller | None:
    """The key's caller, read as the first statement of the request's transaction: a read
    view reads on in it, and so does a write on PostgreSQL (see _writing)."""
    return authenticate_key(_session(), presented)


def partner_api(view):
    """Bearer-key authentication and the rate limits (partners/ratelimit.py: wrong keys per
    address, calls per key); sets g.partner (an ApiCaller)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        wait = ratelimit.address_refused()
        if wait:
            return error(
                429,
                "rate_limited",
                "Too many calls with a wrong API key from this address; retry later.",
                headers={"Retry-After": str(wait)},
            )
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        found = _caller(presented.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            ratelimit.count_bad_key()
            return error(
                401,
                "unauthorized",
                "A valid API key is required (Authorization: Bearer …).",
                headers={"WWW-Authenticate": 'Bearer realm="partners"'},
            )
        g.partner = found
        wait = ratelimit.take(found.key_id)
        if wait:
            return error(
                429,
                "rate_limited",
                "Too many requests for this API key; retry later.",
                headers={"Retry-After": str(wait)},
            )
        return view(*args, **kwargs)

    wrapped.required_roles = ("partner_api",)  # the role check of every view (tests/test_auth.py)
    return wrapped


def _channel() -> redemptions.Channel:
    actor = audit.Actor("partner", g.partner.name, id=str(g.partner.id), request_id=g.get("request_id"))
    return redemptions.Channel(actor, "api", api_key_id=g.partner.key_id)


def _today() -> dt.date:
    return business_today()


@contextmanager
def _writing():
    """The request's write transaction, committed on leaving; rolled back at once on an
    error, to hand its locks on.

    The key check before it reads only, and a read waits for no writer on either database. On
    PostgreSQL the write goes on in the key check's transaction (a transaction's BEGIN and its
    end are round trips of their own). On SQLite a read transaction cannot become a write one
    safely: it ends here, and the write's BEGIN IMMEDIATE takes the write lock.
    """
    session = _session()
    if session.bind.dialect.name == "sqlite":
        session.rollback()
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _answer(answer: redemptions.Answer):
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return jsonify(answer.body), answer.status, headers


@bp.get("/openapi.json")
@partner_api
def openapi():
    return jsonify(DOCUMENT)


@bp.get("/coupons/<code>")
@partner_api
def coupon(code: str):
    try:
        canonical = codes.parse(code)
    except codes.BadCode as exc:
        return error(422, "invalid", "The code is not a coupon code.", {"code": str(exc)})
    row = (
        _session()
        .execute(
            select(Coupon.code, Coupon.status, Coupon.value, Coupon.currency, Coupon.expires_on).where(
                Coupon.code == canonical, Coupon.partner_id == g.partner.id
            )
        )
        .first()
    )
    if row is None:
        return error(404, "not_found", redemptions.MESSAGES["not_found"])
    today = _today()
    status = "expired" if row.status == "issued" and row.expires_on < today else row.status
    zone = ZoneInfo(current_app.config["CRM_SETTINGS"].timezone)
    # The first instant it no longer counts: the end of its last day in the insurer's zone.
    ends = dt.datetime.combine(row.expires_on + dt.timedelta(days=1), dt.time(), zone)
    return jsonify(
        code=row.code, status=status, value=f"{row.value:.2f}", currency=row.currency, expires_at=ends.isoformat()
    )


def _body() -> tuple[dict | None, dict]:
    """The JSON object sent, or (None, field errors)."""
    try:
        body = json.loads(request.get_data(cache=True) or b"null", parse_float=Decimal)
    except (ValueError, RecursionError):
        return None, {"body": "not valid JSON"}
    if not isinstance(body, dict):
        return None, {"body": "a JSON object is required"}
    return body, {}


def _amount(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError('an amount, e.g. "88.00"')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError('an amount, e.g. "88.00"') from None
    if not amount.is_finite() or amount <= 0 or amount > 100000:
        raise ValueError("between 0.01 and 100000")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("at most 2 decimals")
    return amount.quantize(Decimal("0.01"))


def _parse_redemption(body: dict) -> tuple[dict, dict]:
    fields, parsed = {}, {}
    unknown = set(body) - {"code", "amount", "store_id"}
    for name in sorted(unknown):
        fields[name[:40]] = "unknown field"
    if not isinstance(body.get("code"), str) or not body["code"].strip():
        fields["code"] = "required: the coupon code"
    else:
        parsed["code"] = body["code"][:100]
    if body.get("amount") is not None:
        try:
            parsed["amount"] = _amount(body["amount"])
        except ValueError as exc:
            fields["amount"] = str(exc)
    store = body.get("store_id")
    if store is not None:
        if not isinstance(store, str) or not _STORE_RE.match(store):
            fields["store_id"] = "a store code: letters, digits, . _ -, at most 40"
        else:
            parsed["store_id"] = store
    return parsed, fields


@bp.post("/redemptions")
@partner_api
def create_redemption():
    key = request.headers.get("Idempotency-Key", "")
    body, fields = _body()
    parsed, more = _parse_redemption(body) if body is not None else ({}, {})
    fields.update(more)
    if not _KEY_RE.match(key):
        fields["Idempotency-Key"] = "required: 1 to 100 visible ASCII characters, unique per redemption"
    if fields:
        answer = redemptions.refusal(422, "invalid", fields)
        with _writing() as db:
            redemptions.record_attempt(db, _channel(), g.partner, "redeem", parsed.get("code", ""), answer)
        return _answer(answer)
    request_hash = hashlib.sha256(audit.canonical_json(body).encode()).hexdigest()
    channel, today = _channel(), _today()
    with _writing() as db:
        answer = redemptions.redeem(
            db,
            g.partner,
            parsed["code"],
            parsed.get("amount"),
            parsed.get("store_id"),
            key,
            request_hash,
            channel=channel,
            today=today,
        )
    return _answer(answer)


@bp.post("/redemptions/<int:redemption_id>/void")
@partner_api
def void_redemption(redemption_id: int):
    body, _ = _body() if request.get_data(cache=True) else ({}, {})
    reason = body.get("reason") if isinstance(body, dict) and isinstance(body.get("reason"), str) else ""
    channel = _channel()
    with _writing() as db:
        if redemption_id > _MAX_ID:
            answer = redemptions.refusal(404, "not_found", message="There is no such redemption for this partner.")
        else:
            answer = redemptions.void(db, g.partner, redemption_id, channel=channel, reason=reason.replace("\x00", ""))
    return _answer(answer)
