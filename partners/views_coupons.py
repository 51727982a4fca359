"""The printable coupon page (a QR code of the code, rendered by segno as an inline SVG) and
the template helpers coupons are shown with. Routes on the portal's bp."""
from __future__ import annotations

import base64
import datetime as dt
import io

import segno
from flask import abort, render_template
from flask_babel import lazy_gettext as _l, lazy_pgettext
from flask_login import current_user

from crm.auth.login import STAFF, roles_required
from crm.clock import business_today
from crm.customers.services import NotVisible, get_customer
from crm.db import get_session
from partners import bp, codes
from partners.models import Coupon

STATUS_LABELS = {"issued": _l("Valid"), "redeemed": _l("Redeemed"), "expired": _l("Expired"),
                 "voided": lazy_pgettext("coupon", "Withdrawn")}


@bp.app_template_global()
def coupon_status_label(coupon, today: dt.date):
    """The status a person should see: an issued coupon past its last day is expired already."""
    status = "expired" if coupon.status == "issued" and coupon.expires_on < today else coupon.status
    return STATUS_LABELS.get(status, status)


@bp.app_template_global()
def coupon_display(code: str) -> str:
    return codes.display(code)


def qr_data_uri(code: str) -> str:
    """The code as a QR (what a scanner types into the portal), as a base64 SVG data URI
    (the CSP allows data: images, not inline markup)."""
    out = io.BytesIO()
    segno.make(code, error="m").save(out, kind="svg", scale=8, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


@bp.get("/coupons/<int:coupon_id>/print")
@roles_required(*STAFF)
def print_coupon(coupon_id: int):
    db = get_session()
    coupon = db.get(Coupon, coupon_id)
    if coupon is None:
        abort(404)
    try:  # the same visibility as the customer's page: other managers' customers are 404
        get_customer(db, current_user, coupon.customer_id)
    except NotVisible:
        abort(404)
    return render_template("partners/coupon_print.html", coupon=coupon, code=codes.display(coupon.code),
                           qr=qr_data_uri(coupon.code), coupon_today=business_today())
