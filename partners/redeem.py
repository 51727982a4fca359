"""Redeeming and voiding coupons: exactly-once, idempotent, and every attempt on record.

Exactly-once rests on the database, never on a read before a write:
- a redemption is the conditional ``UPDATE coupons SET status='redeemed' WHERE code=… AND
  status='issued' AND expires_on >= today`` whose rowcount says whether this request won;
  the unique ``redemptions.live_coupon_id`` is the last guard (one standing redemption);
- a void is ``UPDATE redemptions SET voided_at=… WHERE id=… AND voided_at IS NULL AND
  redeemed_at > now − 24 h``, then the coupon goes back from 'redeemed' to 'issued';
- an Idempotency-Key is claimed by ``INSERT … ON CONFLICT DO NOTHING`` on (partner, key)
  before anything is changed, and its answer is stored in the same transaction.
The answers are the partner API's (status and JSON body), so that the API, the portal and a
replayed request all say the same thing.

The statements are SQLAlchemy Core, run on the connection of the caller's session (in its
transaction, without the ORM's per-statement work, which these tables' rows do not need); the
digests of the records they change are written here (crm/record_digests.py), once each, from
the states the UPDATE and INSERT return, in one statement for both records. The
Idempotency-Key claim, those RETURNING columns (the state's SQL) and the digests' upsert are
the statements whose SQL differs between the databases (each dialect's ON CONFLICT).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import audit, record_digests
from crm.db import utcnow
from partners import codes
from partners.models import Coupon, IdempotencyRecord, PartnerStore, Redemption, RedemptionAttempt

VOID_WINDOW = dt.timedelta(hours=24)

MESSAGES = {
    "not_found": "There is no such coupon for this partner.",
    "already_redeemed": "This coupon has been redeemed already.",
    "expired": "This coupon has expired.",
    "not_redeemable": "This coupon was withdrawn and cannot be redeemed.",
    "invalid": "Some fields are not valid.",
    "idempotency_mismatch": "This Idempotency-Key was used with a different request.",
    "already_voided": "This redemption has been voided already.",
    "void_window_closed": "The void window (24 hours) of this redemption has closed.",
}


_COUPONS, _REDEMPTIONS = Coupon.__table__, Redemption.__table__
_KEYS, _STORES, _ATTEMPTS = IdempotencyRecord.__table__, PartnerStore.__table__, RedemptionAttempt.__table__
_HELD = select(_KEYS.c.request_hash, _KEYS.c.status_code, _KEYS.c.body).where(
    _KEYS.c.partner_id == bindparam("partner"), _KEYS.c.key == bindparam("idem_key")
)
_IS_STORE = select(_STORES.c.id).where(
    _STORES.c.partner_id == bindparam("partner"), _STORES.c.store_id == bindparam("store")
)
_COUPON_STATE = select(_COUPONS.c.status, _COUPONS.c.expires_on, _COUPONS.c.value).where(
    _COUPONS.c.code == bindparam("coupon_code"), _COUPONS.c.partner_id == bindparam("partner")
)
_DIALECTS = {"postgresql": postgresql, "sqlite": sqlite}
_CLAIM = {
    name: dialect.insert(_KEYS)
    .values(
        partner_id=bindparam("partner"),
        key=bindparam("idem_key"),
        request_hash=bindparam("request_hash"),
        status_code=0,
        body="",
        created_at=bindparam("now"),
    )
    .on_conflict_do_nothing(index_elements=[_KEYS.c.partner_id, _KEYS.c.key])
    .returning(_KEYS.c.id)
    for name, dialect in _DIALECTS.items()
}
# The writes of the records a redemption changes return each one's state as the digest reads
# it (record_digests.returned), so that the digests are stored without reading them back.
_REDEEM = {
    name: update(_COUPONS)
    .where(
        _COUPONS.c.code == bindparam("coupon_code"),
        _COUPONS.c.partner_id == bindparam("partner"),
        _COUPONS.c.status == "issued",
        _COUPONS.c.expires_on >= bindparam("today"),
        _COUPONS.c.value >= bindparam("at_least"),
    )
    .values(status="redeemed")
    .returning(_COUPONS.c.id, _COUPONS.c.value, record_digests.returned(name, "coupons"))
    for name in _DIALECTS
}
_INSERT_REDEMPTION = {
    name: insert(_REDEMPTIONS)
    .values(
        coupon_id=bindparam("coupon"),
        live_coupon_id=bindparam("coupon"),
        partner_id=bindparam("partner"),
        store_id=bindparam("store"),
        amount=bindparam("amount"),
        redeemed_at=bindparam("now"),
    )
    .returning(_REDEMPTIONS.c.id, record_digests.returned(name, "redemptions"))
    for name in _DIALECTS
}
_STORE_ANSWER = (
    update(_KEYS)
    .where(_KEYS.c.partner_id == bindparam("partner"), _KEYS.c.key == bindparam("idem_key"))
    .values(status_code=bindparam("status"), body=bindparam("answer"))
)
_INSERT_ATTEMPT = insert(_ATTEMPTS).values(
    partner_id=bindparam("partner"),
    action=bindparam("action"),
    channel=bindparam("channel"),
    code=bindparam("code"),
    outcome=bindparam("outcome"),
    redemption_id=bindparam("redemption_id"),
    api_key_id=bindparam("api_key_id"),
    user_id=bindparam("user_id"),
    attempted_at=bindparam("now"),
)


def _money(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(f"{value:.2f}")  # SQLite keeps a float


@dataclass(frozen=True)
class Answer:
    """What the partner is told: an HTTP status and a JSON body; ``outcome`` for the records."""

    status: int
    body: dict
    outcome: str
    redemption_id: int | None = None
    replayed: bool = field(default=False, compare=False)


def refusal(
    status: int, code: str, fields: dict | None = None, outcome: str | None = None, message: str | None = None
) -> Answer:
    body = {"error": code, "message": message or MESSAGES.get(code, code)}
    if fields:
        body["fields"] = fields
    return Answer(status, body, outcome or code)


@dataclass(frozen=True)
class Channel:
    """Who is calling: the partner API (with its key) or a cashier in the portal."""

    actor: audit.Actor
    name: str  # api | portal
    api_key_id: int | None = None
    user_id: int | None = None


def _now_iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def masked(code: str) -> str:
    """A code as the audit trail shows it: enough to find it, not enough to use it."""
    return code[:4] + "…" + code[-2:] if len(code) > 6 else "…"


# --- idempotency ---------------------------------------------------------------------


def _claim(session: Session, partner_id: int, key: str, request_hash: str) -> bool:
    """Claim ``key`` for this request; False when another request holds it (PostgreSQL waited
    for a concurrent holder to commit)."""
    conn = session.connection()
    return (
        conn.execute(
            _CLAIM[conn.dialect.name],
            {"partner": partner_id, "idem_key": key, "request_hash": request_hash, "now": utcnow()},
        ).first()
        is not None
    )


def _replay(session: Session, partner_id: int, key: str, request_hash: str) -> Answer:
    """The answer stored under a key held by another request (or a 422 for another body)."""
    held = session.connection().execute(_HELD, {"partner": partner_id, "idem_key": key}).first()
    if held.request_hash != request_hash:
        return refusal(422, "idempotency_mismatch", {"Idempotency-Key": "used before with a different request body"})
    body = json.loads(held.body)
    return Answer(held.status_code, body, "replayed", body.get("redemption_id"), replayed=True)


# --- the record of every attempt -------------------------------------------------------


def record_attempt(
    session: Session,
    channel: Channel,
    partner,
    action: str,
    code: str,
    answer: Answer,
    *,
    stored_under: str | None = None,
) -> None:
    """One attempt row and one audit event, in the caller's transaction (never commits); with
    ``stored_under``, also the answer under that Idempotency-Key.

    ``partner`` is a Partner, or anything with its ``id`` (the API's authenticated caller).
    """
    code = "".join(ch for ch in (code or "") if ch.isascii() and ch.isalnum())[:40]  # typed text: keep it tame
    row = {
        "partner": partner.id,
        "action": action,
        "channel": channel.name,
        "code": code,
        "outcome": answer.outcome,
        "redemption_id": answer.redemption_id,
        "api_key_id": channel.api_key_id,
        "user_id": channel.user_id,
        "now": utcnow(),
    }
    conn = session.connection()
    if stored_under is not None:
        conn.execute(
            _STORE_ANSWER,
            {
                "partner": partner.id,
                "idem_key": stored_under,
                "status": answer.status,
                "answer": json.dumps(answer.body),
            },
        )
    conn.execute(_INSERT_ATTEMPT, row)
    # Last, so that the audit head (one row every writer takes) is held for the least time.
    audit.record(
        session,
        channel.actor,
        audit.Change(
            f"coupon.{action}",
            "redemption" if answer.redemption_id else "partner",
            answer.redemption_id or partner.id,
            None,
            {
                "partner_id": partner.id,
                "code": masked(code),
                "outcome": answer.outcome,
                "status": answer.status,
                "channel": channel.name,
                "replayed": answer.replayed,
            },
        ),
    )


# --- redeem --------------------------------------------------------------------------


def _why_not(session: Session, partner_id: int, code: str, amount: Decimal | None, today: dt.date) -> Answer:
    coupon = session.connection().execute(_COUPON_STATE, {"coupon_code": code, "partner": partner_id}).first()
    if coupon is None:
        return refusal(404, "not_found")
    if coupon.status == "redeemed":
        return refusal(409, "already_redeemed")
    if coupon.status == "expired" or coupon.expires_on < today:
        return refusal(409, "expired")
    if coupon.status == "voided":
        return refusal(409, "not_redeemable")
    if amount is not None and amount > coupon.value:
        return refusal(
            422, "invalid", {"amount": f"more than the coupon's face value {coupon.value}"}, outcome="invalid"
        )
    return refusal(409, "not_redeemable")


def _redeem_once(
    session: Session, partner_id: int, code: str, amount: Decimal | None, store_id: str | None, today: dt.date
) -> Answer:
    conn = session.connection()
    won = conn.execute(
        _REDEEM[conn.dialect.name],
        {
            "coupon_code": code,
            "partner": partner_id,
            "today": today,
            "at_least": Decimal(0) if amount is None else amount,
        },
    ).first()
    if won is None:
        return _why_not(session, partner_id, code, amount, today)
    now = utcnow()
    redemption = conn.execute(
        _INSERT_REDEMPTION[conn.dialect.name],
        {
            "coupon": won.id,
            "partner": partner_id,
            "store": store_id,
            "amount": _money(won.value) if amount is None else amount,
            "now": now,
        },
    ).one()
    redemption_id = redemption.id
    record_digests.store(
        session, [("coupons", won.id, won.digest_message), ("redemptions", redemption_id, redemption.digest_message)]
    )
    return Answer(
        201, {"redemption_id": redemption_id, "code": code, "redeemed_at": _now_iso(now)}, "redeemed", redemption_id
    )


def redeem(
    session: Session,
    partner,
    code: str,
    amount: Decimal | None,
    store_id: str | None,
    idempotency_key: str,
    request_hash: str,
    *,
    channel: Channel,
    today: dt.date,
) -> Answer:
    """Redeem ``code`` (as typed) for ``partner`` (a Partner, or anything with its ``id``), once;
    the answer of a repeated key is replayed.

    Never raises for a refusal: every outcome is an Answer, recorded as an attempt.
    """
    try:
        canonical, answer = codes.parse(code), None
    except codes.BadCode as exc:
        canonical, answer = codes.normalise(code), refusal(422, "invalid", {"code": str(exc)})
    if (
        answer is None
        and store_id is not None
        and session.connection().execute(_IS_STORE, {"partner": partner.id, "store": store_id}).first() is None
    ):
        answer = refusal(422, "invalid", {"store_id": "not one of this partner's stores"})
    claimed = _claim(session, partner.id, idempotency_key, request_hash)
    if claimed and answer is None:
        answer = _redeem_once(session, partner.id, canonical, amount, store_id, today)
    if not claimed:
        answer = _replay(session, partner.id, idempotency_key, request_hash)
    record_attempt(
        session, channel, partner, "redeem", canonical, answer, stored_under=idempotency_key if claimed else None
    )
    return answer


# --- void ----------------------------------------------------------------------------

_VOID = {
    name: update(_REDEMPTIONS)
    .where(
        _REDEMPTIONS.c.id == bindparam("redemption"),
        _REDEMPTIONS.c.partner_id == bindparam("partner"),
        _REDEMPTIONS.c.voided_at.is_(None),
        _REDEMPTIONS.c.redeemed_at > bindparam("window_opened"),
    )
    .values(voided_at=bindparam("now"), live_coupon_id=None, void_reason=bindparam("reason"))
    .returning(_REDEMPTIONS.c.coupon_id, record_digests.returned(name, "redemptions"))
    for name in _DIALECTS
}
_UNREDEEM = {
    name: update(_COUPONS)
    .where(_COUPONS.c.id == bindparam("coupon"), _COUPONS.c.status == "redeemed")
    .values(status="issued")
    .returning(_COUPONS.c.code, record_digests.returned(name, "coupons"))
    for name in _DIALECTS
}
_COUPON_OF = select(_COUPONS.c.code, _COUPONS.c.status).where(_COUPONS.c.id == bindparam("coupon"))
_VOID_STATE = (
    select(_REDEMPTIONS.c.voided_at, _COUPONS.c.code)
    .join(_COUPONS, _COUPONS.c.id == _REDEMPTIONS.c.coupon_id)
    .where(_REDEMPTIONS.c.id == bindparam("redemption"), _REDEMPTIONS.c.partner_id == bindparam("partner"))
)


def void(
    session: Session, partner, redemption_id: int, *, channel: Channel, reason: str = "", now: dt.datetime | None = None
) -> Answer:
    """Void a standing redemption within 24 h; the coupon becomes redeemable again.

    Two voids of one redemption, concurrent or not, void it once: the second is 409.
    """
    now = now or utcnow()
    conn = session.connection()
    params = {"redemption": redemption_id, "partner": partner.id}
    voided = conn.execute(
        _VOID[conn.dialect.name],
        {**params, "window_opened": now - VOID_WINDOW, "now": now, "reason": (reason or "")[:200] or None},
    ).first()
    code = ""
    if voided is not None:
        digests = [("redemptions", redemption_id, voided.digest_message)]
        coupon = conn.execute(_UNREDEEM[conn.dialect.name], {"coupon": voided.coupon_id}).first()
        if coupon is None:  # the coupon had left 'redeemed' some other way: it stays as it is
            code, status = conn.execute(_COUPON_OF, {"coupon": voided.coupon_id}).one()
        else:
            code, status = coupon.code, "issued"
            digests.append(("coupons", voided.coupon_id, coupon.digest_message))
        answer = Answer(
            200,
            {"redemption_id": redemption_id, "code": code, "voided_at": _now_iso(now), "coupon_status": status},
            "voided",
            redemption_id,
        )
        record_digests.store(session, digests)
    else:
        row = conn.execute(_VOID_STATE, params).first()
        if row is None:
            answer = refusal(404, "not_found", message="There is no such redemption for this partner.")
        else:
            code = row.code
            answer = refusal(409, "already_voided" if row.voided_at is not None else "void_window_closed")
            answer = Answer(answer.status, answer.body, answer.outcome, redemption_id)
    record_attempt(session, channel, partner, "void", code, answer)
    return answer
