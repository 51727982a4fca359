"""Customer list and customer page."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from crm import audit, limits
from crm.auth.login import STAFF, current_actor, roles_required
from crm.ui import NavItem
from crm.customers import services
from crm.db import get_session
from crm.models.tiers import TIERS

bp = Blueprint("customers", __name__)
NAV = [NavItem("customers.index", _l("Customers"), STAFF)]


@bp.get("/")
@login_required
def home():
    """Cashiers land on the merchant portal, staff on their dashboard."""
    if current_user.role == "partner_cashier":
        return redirect(url_for("portal.index"))
    return redirect(url_for("workspace.dashboard"))


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.get("/customers")
@roles_required(*STAFF)
@limits.search_limit
def index():
    db = get_session()
    f = services.CustomerFilter(
        q=request.args.get("q", "")[:100],
        tier=request.args.get("tier", "") if request.args.get("tier") in TIERS else "",
        city=request.args.get("city", "")[:50],
        manager_id=_int_arg("manager"),
        after_id=_int_arg("after"),
    )
    rows, next_after = services.search_customers(db, current_user, f)
    return render_template(
        "customers/index.html", rows=rows, next_after=next_after, f=f, tiers=TIERS,
        cities=services.cities(db),
        managers=services.managers(db) if current_user.role != "account_manager" else [],
    )


@bp.get("/customers/<int:customer_id>")
@roles_required(*STAFF)
def show(customer_id: int):
    db = get_session()
    try:
        customer = services.get_customer(db, current_user, customer_id)
    except services.NotVisible:
        abort(404)
    return _page(db, customer, revealed=False)


@bp.post("/customers/<int:customer_id>/reveal")
@roles_required("admin", "account_manager")
def reveal(customer_id: int):
    """Show the full ID number and phone: an explicit action, written to the audit trail."""
    db = get_session()
    try:
        customer = services.get_customer(db, current_user, customer_id)
    except services.NotVisible:
        abort(404)
    audit.record(db, current_actor(), audit.Change("pii.reveal", "customer", customer.id, None,
                                                   {"fields": ["id_number", "phone"]}))
    db.commit()
    return _page(db, customer, revealed=True)


reveal.reveals_personal_data = True  # the personal-data scan of the tests allows this view only


def _page(db, customer, revealed: bool):
    from crm import features

    return render_template("customers/show.html", c=customer, revealed=revealed,
                           trail=audit.trail_for(db, "customer", customer.id, customer.import_batch_id),
                           panels=features.customer_panels(db, current_user, customer),
                           **services.customer_picture(db, current_user, customer))
