"""Customer list and customer page."""

from __future__ import annotations

from dataclasses import replace

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from crm import audit, csvout, listing, ratelimits
from crm.auth.login import STAFF, current_actor, roles_required
from crm.customers import blacklist, bp, services
from crm.db import get_session
from crm.models.tiers import TIERS
from crm.request_args import int_arg
from crm.ui import LABELS, NavItem
from crm.validators import mask_phone

NAV = [NavItem("customers.index", _l("Customers"), STAFF)]


@bp.get("/")
@login_required
def home():
    """Cashiers land on the merchant portal, account managers on today's work, staff on their dashboard."""
    if current_user.role == "partner_cashier":
        return redirect(url_for("portal.index"))
    if current_user.role == "account_manager":
        return redirect(url_for("workspace.today_page"))
    return redirect(url_for("workspace.dashboard"))


def _filter() -> services.CustomerFilter:
    """The list's filters from the request: the search text only from a POST body, the rest
    also from a URL. A sort the list does not offer is a 400."""
    values = request.form if request.method == "POST" else request.args
    try:
        sort = listing.parse_sort(values.get("sort_to") or values.get("sort"), services.SORT_COLUMNS)
    except listing.BadSort:
        abort(400)
    return services.CustomerFilter(
        q=request.form.get("q", "")[:100] if request.method == "POST" else "",
        tier=values.get("tier", "") if values.get("tier") in TIERS else "",
        city=values.get("city", "")[:50],
        manager_id=int_arg("manager", values=values),
        after_id=int_arg("after", values=values) if sort.key is None else None,
        sort=sort,
        page=0 if "sort_to" in values else int_arg("page", 0, high=100_000, values=values),
    )


@bp.route("/customers", methods=["GET", "POST"])
@roles_required(*STAFF)
@ratelimits.search_limit
def index():
    """The customer list and search.

    The search text is read only from a POST body (CSRF-checked like every form): a name or
    number typed here never becomes part of a URL, so no access log, proxy log, browser
    history or Referer carries it. The filters without personal data (tier, city, manager,
    sort, page) also work as links (GET); a ``q`` in a URL is ignored.
    """
    db = get_session()
    f = _filter()
    refused = revealed = False
    try:
        rows, next_after, more = services.search_customers(db, current_user, f)
        total = listing.count(db, services.customer_query(current_user, f))
    except services.RevealRequired:
        # Nothing was looked up; the number is not even echoed back into the box.
        rows, next_after, more, total, refused = [], None, False, 0, True
        f = replace(f, q="", after_id=None, page=0)
    kind, _value = services.search_kind(f.q)
    if kind in services.FULL_NUMBER_KINDS:
        services.record_search_reveal(db, current_actor(), kind, [c.id for c, _tier in rows])
        db.commit()
        revealed = True
    return render_template(
        "customers/index.html",
        rows=rows,
        next_after=next_after,
        more=more,
        total=total,
        f=f,
        tiers=TIERS,
        refused=refused,
        revealed=revealed,
        may_reveal=services.may_reveal(current_user),
        cities=services.cities(db),
        managers=services.managers(db) if current_user.role != "account_manager" else [],
        black=blacklist.black_customer_ids(db, [c.id for c, _tier in rows]),
    )


@bp.post("/customers/export")
@roles_required(*STAFF)
@ratelimits.search_limit
def export():
    """The list as shown (same search, filters and sort, masked alike) as a CSV file. A search
    by a full number is not exported: its reveal is audited on the page, one customer at a time."""
    db = get_session()
    f = _filter()
    if services.search_kind(f.q)[0] in services.FULL_NUMBER_KINDS:
        abort(400)
    try:
        stmt = services.ordered(services.customer_query(current_user, f), f)
    except services.RevealRequired:
        abort(400)
    header = [_("Reference"), _("Name"), _("Tier"), _("City"), _("Phone"), _("Source")]
    rows = listing.export_rows(
        db,
        stmt,
        lambda r: [
            r[0].customer_ref,
            r[0].name,
            LABELS["tier"].get(r[1], "") if r[1] else "",
            r[0].city,
            mask_phone(r[0].phone),
            LABELS["source"].get(r[0].source, r[0].source),
        ],
    )
    return csvout.csv_response(csvout.to_text(header, rows), "customers.csv")


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
@roles_required(*services.REVEAL_ROLES)
def reveal(customer_id: int):
    """Show the full ID number and phone: an explicit action, written to the audit trail."""
    db = get_session()
    try:
        customer = services.get_customer(db, current_user, customer_id)
    except services.NotVisible:
        abort(404)
    audit.record(
        db,
        current_actor(),
        audit.Change("pii.reveal", "customer", customer.id, None, {"fields": ["id_number", "phone"]}),
    )
    db.commit()
    return _page(db, customer, revealed=True)


reveal.reveals_personal_data = True  # the personal-data scan of the tests allows this view only


def _page(db, customer, revealed: bool):
    from crm import features

    return render_template(
        "customers/show.html",
        c=customer,
        revealed=revealed,
        may_reveal=services.may_reveal(current_user),
        trail=audit.trail_for(db, "customer", customer.id, customer.import_batch_id),
        panels=features.customer_panels(db, current_user, customer),
        lists=blacklist.customer_lists(db, current_user, customer.id),
        **services.customer_picture(db, current_user, customer),
    )
