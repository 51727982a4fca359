"""The printable coupon page (a QR code of the code, rendered by segno as an inline SVG) and
the template helpers coupons are shown with. Routes on the portal's bp.

A coupon's code works like cash: staff see it masked (``ABCD-****-****-PQ``). Only the
customer's account manager and admins print the full code, with a deliberate POST that is
written to the audit trail (naming the coupon, never the code).
"""

from __future__ import annotations

import base64
import datetime as dt
import io

import segno
from flask import abort, render_template
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user

from crm import audit
from crm.auth.login import STAFF, current_actor, roles_required
from crm.clock import business_today
from crm.customers.services import NotVisible, get_customer
from crm.db import get_session
from partners import bp, codes
from partners.models import Coupon

PRINT_ROLES = ("admin", "account_manager")  # an account manager only for their own customers
STATUS_LABELS = {
    "issued": _l("Valid"),
    "redeemed": _l("Redeemed"),
    "expired": _l("Expired"),
    "voided": lazy_pgettext("coupon", "Withdrawn"),
}


@bp.app_template_global()
def coupon_status_label(coupon, today: dt.date):
    """The status a person should see: an issued coupon past its last day is expired already."""
    status = "expired" if coupon.status == "issued" and coupon.expires_on < today else coupon.status
    return STATUS_LABELS.get(status, status)


@bp.app_template_global()
def coupon_display(code: str) -> str:
    return codes.display(code)


@bp.app_template_global()
def coupon_masked(code: str) -> str:
    """The code as staff see it: grouped, with only the first 4 and the last 2 characters (as
    the audit trail and the partner's logs name it) — enough to tell coupons apart."""
    return codes.display(code[:4] + "*" * (len(code) - 6) + code[-2:]) if len(code) > 6 else "*" * len(code)


def qr_data_uri(code: str) -> str:
    """The code as a QR (what a scanner types into the portal), as a base64 SVG data URI
    (the CSP allows data: images, not inline markup)."""
    out = io.BytesIO()
    segno.make(code, error="m").save(out, kind="svg", scale=8, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def _visible_coupon(db, coupon_id: int) -> Coupon:
    """The coupon, if the user may see its customer (the same 404 as the customer's page)."""
    coupon = db.get(Coupon, coupon_id)
    if coupon is None:
        abort(404)
    try:
        get_customer(db, current_user, coupon.customer_id)
    except NotVisible:
        abort(404)
    return coupon


@bp.get("/coupons/<int:coupon_id>/print")
@roles_required(*STAFF)
def print_coupon(coupon_id: int):
    """The coupon with its code masked; the account manager and admins get the button that
    shows the full code."""
    coupon = _visible_coupon(get_session(), coupon_id)
    return render_template(
        "partners/coupon_print.html",
        coupon=coupon,
        code=coupon_masked(coupon.code),
        qr=None,
        may_print=current_user.role in PRINT_ROLES,
        coupon_today=business_today(),
    )


@bp.post("/coupons/<int:coupon_id>/print")
@roles_required(*PRINT_ROLES)
def print_coupon_code(coupon_id: int):
    """The printable coupon with its full code and QR: written to the audit trail first."""
    db = get_session()
    coupon = _visible_coupon(db, coupon_id)
    audit.record(
        db,
        current_actor(),
        audit.Change("coupon.print", "coupon", coupon.id, None, {"customer_id": coupon.customer_id}),
    )
    db.commit()
    return render_template(
        "partners/coupon_print.html",
        coupon=coupon,
        code=codes.display(coupon.code),
        qr=qr_data_uri(coupon.code),
        may_print=True,
        coupon_today=business_today(),
    )
