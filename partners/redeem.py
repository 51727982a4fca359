"""Redeeming and voiding coupons: exactly-once, idempotent, and every attempt on record.

Exactly-once rests on the database, never on a read before a write:
- a redemption is the conditional ``UPDATE coupons SET status='redeemed' WHERE code=… AND
  status='issued' AND expires_on >= today`` whose rowcount says whether this request won;
  the unique ``redemptions.live_coupon_id`` is the last guard (one standing redemption);
- a void is ``UPDATE redemptions SET voided_at=… WHERE id=… AND voided_at IS NULL AND
  redeemed_at > now − 24 h``, then the coupon goes back from 'redeemed' to 'issued';
- an Idempotency-Key is claimed by ``INSERT … ON CONFLICT DO NOTHING`` on (partner, key)
  before anything else, and its answer is stored in the same transaction.
The answers are the partner API's (status and JSON body), so that the API, the portal and a
replayed request all say the same thing.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import audit
from crm.db import utcnow
from partners import codes
from partners.models import Coupon, IdempotencyRecord, Partner, PartnerStore, Redemption, RedemptionAttempt

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


@dataclass(frozen=True)
class Answer:
    """What the partner is told: an HTTP status and a JSON body; ``outcome`` for the records."""

    status: int
    body: dict
    outcome: str
    redemption_id: int | None = None
    replayed: bool = field(default=False, compare=False)


def refusal(status: int, code: str, fields: dict | None = None, outcome: str | None = None,
            message: str | None = None) -> Answer:
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
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def masked(code: str) -> str:
    """A code as the audit trail shows it: enough to find it, not enough to use it."""
    return code[:4] + "…" + code[-2:] if len(code) > 6 else "…"


# --- idempotency ---------------------------------------------------------------------

def _claim(session: Session, partner_id: int, key: str, request_hash: str) -> IdempotencyRecord | None:
    """Claim ``key`` for this request; None when claimed now, else the record holding it."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(IdempotencyRecord).values(
        partner_id=partner_id, key=key, request_hash=request_hash, status_code=0, body="", created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["partner_id", "key"]).returning(IdempotencyRecord.id)
    if session.execute(stmt).first() is not None:  # a row came back: this request holds the key
        return None
    # PostgreSQL waited for a concurrent holder of the key to commit; this sees its answer.
    return session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.partner_id == partner_id,
                                                          IdempotencyRecord.key == key))


def _store(session: Session, partner_id: int, key: str, answer: Answer) -> None:
    session.execute(update(IdempotencyRecord).where(IdempotencyRecord.partner_id == partner_id,
                                                    IdempotencyRecord.key == key)
                    .values(status_code=answer.status, body=json.dumps(answer.body)))


# --- the record of every attempt -------------------------------------------------------

def record_attempt(session: Session, channel: Channel, partner: Partner, action: str, code: str,
                   answer: Answer) -> None:
    """One attempt row and one audit event, in the caller's transaction (never commits)."""
    code = "".join(ch for ch in (code or "") if ch.isascii() and ch.isalnum())[:40]  # typed text: keep it tame
    session.execute(insert(RedemptionAttempt).values(
        partner_id=partner.id, action=action, channel=channel.name, code=code,
        outcome=answer.outcome, redemption_id=answer.redemption_id, api_key_id=channel.api_key_id,
        user_id=channel.user_id, attempted_at=utcnow()))
    # Last, so that the audit head (one row every writer takes) is held for the least time.
    audit.record(session, channel.actor, audit.Change(
        f"coupon.{action}", "redemption" if answer.redemption_id else "partner",
        answer.redemption_id or partner.id, None,
        {"partner_id": partner.id, "code": masked(code), "outcome": answer.outcome,
         "status": answer.status, "channel": channel.name, "replayed": answer.replayed}))


# --- redeem --------------------------------------------------------------------------

def _why_not(session: Session, partner: Partner, code: str, amount: Decimal | None, today: dt.date) -> Answer:
    coupon = session.scalar(select(Coupon).where(Coupon.code == code, Coupon.partner_id == partner.id))
    if coupon is None:
        return refusal(404, "not_found")
    if coupon.status == "redeemed":
        return refusal(409, "already_redeemed")
    if coupon.status == "expired" or coupon.expires_on < today:
        return refusal(409, "expired")
    if coupon.status == "voided":
        return refusal(409, "not_redeemable")
    if amount is not None and amount > coupon.value:
        return refusal(422, "invalid", {"amount": f"more than the coupon's face value {coupon.value}"},
                       outcome="invalid")
    return refusal(409, "not_redeemable")


def _redeem_once(session: Session, partner: Partner, code: str, amount: Decimal | None,
                 store_id: str | None, today: dt.date) -> Answer:
    if store_id is not None and session.scalar(select(PartnerStore.id).where(
            PartnerStore.partner_id == partner.id, PartnerStore.store_id == store_id)) is None:
        return refusal(422, "invalid", {"store_id": "not one of this partner's stores"})
    where = [Coupon.code == code, Coupon.partner_id == partner.id, Coupon.status == "issued",
             Coupon.expires_on >= today]
    if amount is not None:
        where.append(Coupon.value >= amount)
    won = session.execute(update(Coupon).where(*where).values(status="redeemed")
                          .returning(Coupon.id, Coupon.value)).first()
    if won is None:
        return _why_not(session, partner, code, amount, today)
    now = utcnow()
    redemption_id = session.execute(insert(Redemption).values(
        coupon_id=won.id, live_coupon_id=won.id, partner_id=partner.id, store_id=store_id,
        amount=won.value if amount is None else amount, redeemed_at=now).returning(Redemption.id)).scalar_one()
    return Answer(201, {"redemption_id": redemption_id, "code": code, "redeemed_at": _now_iso(now)},
                  "redeemed", redemption_id)


def redeem(session: Session, partner: Partner, code: str, amount: Decimal | None, store_id: str | None,
           idempotency_key: str, request_hash: str, *, channel: Channel, today: dt.date) -> Answer:
    """Redeem ``code`` (as typed) for ``partner``, once; the answer of a repeated key is replayed.

    Never raises for a refusal: every outcome is an Answer, recorded as an attempt.
    """
    held = _claim(session, partner.id, idempotency_key, request_hash)
    if held is not None:
        if held.request_hash != request_hash:
            answer = refusal(422, "idempotency_mismatch",
                             {"Idempotency-Key": "used before with a different request body"})
        else:
            body = json.loads(held.body)
            answer = Answer(held.status_code, body, "replayed", body.get("redemption_id"), replayed=True)
        record_attempt(session, channel, partner, "redeem", codes.normalise(code), answer)
        return answer
    try:
        canonical = codes.parse(code)
    except codes.BadCode as exc:
        answer = refusal(422, "invalid", {"code": str(exc)})
        canonical = codes.normalise(code)
    else:
        answer = _redeem_once(session, partner, canonical, amount, store_id, today)
    _store(session, partner.id, idempotency_key, answer)
    record_attempt(session, channel, partner, "redeem", canonical, answer)
    return answer


# --- void ----------------------------------------------------------------------------

def void(session: Session, partner: Partner, redemption_id: int, *, channel: Channel, reason: str = "",
         now: dt.datetime | None = None) -> Answer:
    """Void a standing redemption within 24 h; the coupon becomes redeemable again.

    Two voids of one redemption, concurrent or not, void it once: the second is 409.
    """
    now = now or utcnow()
    voided = session.execute(update(Redemption).where(
        Redemption.id == redemption_id, Redemption.partner_id == partner.id, Redemption.voided_at.is_(None),
        Redemption.redeemed_at > now - VOID_WINDOW,
    ).values(voided_at=now, live_coupon_id=None, void_reason=(reason or "")[:200] or None)
        .returning(Redemption.coupon_id)).first()
    code = ""
    if voided is not None:
        session.execute(update(Coupon).where(Coupon.id == voided.coupon_id, Coupon.status == "redeemed")
                        .values(status="issued"))
        code = session.scalar(select(Coupon.code).where(Coupon.id == voided.coupon_id))
        answer = Answer(200, {"redemption_id": redemption_id, "code": code, "voided_at": _now_iso(now),
                              "coupon_status": "issued"}, "voided", redemption_id)
    else:
        row = session.execute(select(Redemption.voided_at, Coupon.code).join(Coupon, Coupon.id == Redemption.coupon_id)
                              .where(Redemption.id == redemption_id, Redemption.partner_id == partner.id)).first()
        if row is None:
            answer = refusal(404, "not_found", message="There is no such redemption for this partner.")
        else:
            code = row.code
            answer = refusal(409, "already_voided" if row.voided_at is not None else "void_window_closed")
            answer = Answer(answer.status, answer.body, answer.outcome, redemption_id)
    record_attempt(session, channel, partner, "void", code, answer)
    return answer
