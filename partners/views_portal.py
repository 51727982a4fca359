"""The merchant portal for partner cashiers: look a code up (typed or scanned), redeem it, void
within the window, and the day's redemptions. A cashier sees only their own partner's coupons.
The partner administration and settlement pages (admins) are in partners/views_admin.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.auth.login import current_actor, roles_required
from crm.clock import business_today as today
from crm.db import get_session
from crm.ui import NavItem
from partners import bp, codes, queries
from partners import redeem as redemptions
from partners.forms import LookupForm, RedeemForm, VoidForm
from partners.services import cashier_partner
from partners.settlement import period_bounds

NAV = [
    NavItem("portal.index", _l("Redeem coupons")),
    NavItem("portal.partners", _l("Partners")),
    NavItem("portal.settlement", _l("Settlement")),
]
CASHIER = ("partner_cashier",)

OUTCOMES = {
    "redeemed": _l("Redeemed."),
    "voided": _l("The redemption was voided; the coupon can be used again."),
    "not_found": _l("There is no such coupon for your shop."),
    "already_redeemed": _l("This coupon has been redeemed already."),
    "expired": _l("This coupon has expired."),
    "not_redeemable": _l("This coupon was withdrawn and cannot be redeemed."),
    "already_voided": _l("This redemption has been voided already."),
    "void_window_closed": _l("The void window (24 hours) of this redemption has closed."),
    "invalid": _l("Some fields are not valid."),
    "idempotency_mismatch": _l("This form was sent before with other values; reload the page."),
}


def zone() -> str:
    return current_app.config["CRM_SETTINGS"].timezone


def _partner():
    partner = cashier_partner(get_session(), current_user.id)
    if partner is None:
        abort(403)  # a cashier not (or no longer) linked to an active partner sees nothing
    return partner


def _channel() -> redemptions.Channel:
    return redemptions.Channel(current_actor(), "portal", user_id=current_user.id)


def _page(partner, code_text: str | None, redeem_form: RedeemForm | None = None, status: int = 200):
    db = get_session()
    lookup = LookupForm(request.args if code_text is None else None, code=code_text)
    found, problem = None, None
    text = code_text if code_text is not None else request.args.get("code")
    if text:
        try:
            found = queries.coupon_for_partner(db, partner.id, codes.parse(text))
        except codes.BadCode as exc:
            lookup.code.errors = [str(exc)]
            status = max(status, 422)
        else:
            problem = None if found else OUTCOMES["not_found"]
    if found and redeem_form is None:
        redeem_form = RedeemForm(formdata=None, code=found[0].code, idempotency_key=uuid.uuid4().hex)
    if redeem_form is not None:
        redeem_form.store_id.choices = _store_choices(partner)
    lo, hi = period_bounds(today(), today(), zone())
    return render_template(
        "partners/portal.html",
        partner=partner,
        lookup=lookup,
        found=found,
        problem=problem,
        redeem_form=redeem_form,
        void_form=VoidForm(),
        today=today(),
        display=codes.display,
        redemptions=queries.redemptions_between(db, partner.id, lo, hi),
        void_open_after=dt.datetime.now(dt.UTC) - redemptions.VOID_WINDOW,
    ), status


def _store_choices(partner) -> list:
    return [("", _("—"))] + [
        (s.store_id, f"{s.store_id} · {s.name}") for s in queries.stores(get_session(), partner.id)
    ]


@bp.get("/")
@roles_required(*CASHIER)
def index():
    return _page(_partner(), None)


@bp.post("/redeem")
@roles_required(*CASHIER)
def redeem():
    partner = _partner()
    form = RedeemForm()
    form.store_id.choices = _store_choices(partner)
    if not form.validate():
        return _page(partner, form.code.data or "", form, status=422)
    amount = form.amount.data
    store = form.store_id.data or None
    request_hash = hashlib.sha256(f"{form.code.data}|{amount}|{store}".encode()).hexdigest()
    db = get_session()
    answer = redemptions.redeem(
        db,
        partner,
        form.code.data,
        amount,
        store,
        form.idempotency_key.data,
        request_hash,
        channel=_channel(),
        today=today(),
    )
    db.commit()
    outcome = answer.body.get("error", "redeemed")
    flash(OUTCOMES.get(outcome, outcome), "success" if answer.status == 201 else "error")
    return redirect(url_for("portal.index", code=codes.normalise(form.code.data)), code=303)


@bp.post("/redemptions/<int:redemption_id>/void")
@roles_required(*CASHIER)
def void(redemption_id: int):
    partner = _partner()
    form = VoidForm()
    if not form.validate():
        abort(400)
    db = get_session()
    answer = redemptions.void(db, partner, redemption_id, channel=_channel(), reason=form.reason.data or "")
    db.commit()
    if answer.status == 404:
        abort(404)
    outcome = answer.body.get("error", "voided")
    flash(OUTCOMES.get(outcome, outcome), "success" if answer.status == 200 else "error")
    return redirect(url_for("portal.index"), code=303)
