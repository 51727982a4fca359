"""Partner administration (admins): partners, stores, cashiers, API keys shown once, and the
settlement report with its CSV for the insurer's finance team. Routes on the portal's bp."""

from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crm.auth.login import current_actor, roles_required
from crm.clock import business_today as today
from crm.csvout import csv_response
from crm.db import get_session
from partners import bp, queries, services
from partners.forms import CATEGORY_LABELS, CashierForm, PartnerForm, SettlementForm, StoreForm, VoidForm
from partners.models import Partner
from partners.settlement import settlement as build_settlement
from partners.settlement import write_csv
from partners.views_portal import zone

ADMIN = ("admin",)


def _get(partner_id: int) -> Partner:
    partner = get_session().get(Partner, partner_id)
    if partner is None:
        abort(404)
    return partner


def _show(partner: Partner, new_key: str | None = None, store_form=None, cashier_form=None, status: int = 200):
    db = get_session()
    return render_template(
        "partners/partner.html",
        partner=partner,
        new_key=new_key,
        store_form=store_form or StoreForm(formdata=None),
        cashier_form=cashier_form or CashierForm(formdata=None),
        action_form=VoidForm(),
        stores=queries.stores(db, partner.id),
        keys=queries.keys(db, partner.id),
        cashiers=queries.cashiers(db, partner.id),
        category_labels=CATEGORY_LABELS,
    ), status


@bp.route("/partners", methods=["GET", "POST"])
@roles_required(*ADMIN)
def partners():
    db = get_session()
    form = PartnerForm()
    if form.validate_on_submit():
        try:
            partner, key = services.create_partner(db, current_actor(), form.name.data, form.category.data)
        except services.PartnerError as exc:
            form.name.errors = [str(exc)]
        else:
            db.commit()
            flash(_("Partner %(name)s created.", name=partner.name), "success")
            return _show(partner, new_key=key)  # the key is in this one response, never again
    status = 422 if form.is_submitted() else 200
    return render_template(
        "partners/partners.html", form=form, partners=queries.partners(db), category_labels=CATEGORY_LABELS
    ), status


@bp.get("/partners/<int:partner_id>")
@roles_required(*ADMIN)
def partner(partner_id: int):
    return _show(_get(partner_id))


@bp.post("/partners/<int:partner_id>/stores")
@roles_required(*ADMIN)
def add_store(partner_id: int):
    partner, form = _get(partner_id), StoreForm()
    if form.validate():
        try:
            services.add_store(
                get_session(), current_actor(), partner.id, form.store_id.data, form.name.data, form.city.data or ""
            )
        except services.PartnerError as exc:
            form.store_id.errors = [str(exc)]
        else:
            get_session().commit()
            return redirect(url_for("portal.partner", partner_id=partner.id), code=303)
    return _show(partner, store_form=form, status=422)


@bp.post("/partners/<int:partner_id>/cashiers")
@roles_required(*ADMIN)
def link_cashier(partner_id: int):
    partner, form = _get(partner_id), CashierForm()
    if form.validate():
        try:
            services.link_cashier(get_session(), current_actor(), partner.id, form.email.data)
        except services.PartnerError as exc:
            form.email.errors = [str(exc)]
        else:
            get_session().commit()
            return redirect(url_for("portal.partner", partner_id=partner.id), code=303)
    return _show(partner, cashier_form=form, status=422)


@bp.post("/partners/<int:partner_id>/keys/rotate")
@roles_required(*ADMIN)
def rotate_key(partner_id: int):
    partner = _get(partner_id)
    if not VoidForm().validate():
        abort(400)
    key = services.rotate_key(get_session(), current_actor(), partner.id)
    get_session().commit()
    flash(_("A new API key was issued; the old one no longer works."), "success")
    return _show(partner, new_key=key)


@bp.post("/partners/<int:partner_id>/keys/revoke")
@roles_required(*ADMIN)
def revoke_key(partner_id: int):
    partner = _get(partner_id)
    if not VoidForm().validate():
        abort(400)
    services.revoke_key(get_session(), current_actor(), partner.id)
    get_session().commit()
    flash(_("Every API key of this partner was revoked."), "success")
    return redirect(url_for("portal.partner", partner_id=partner.id), code=303)


@bp.get("/settlement")
@roles_required(*ADMIN)
def settlement():
    db = get_session()
    form = SettlementForm(request.args)
    form.partner.choices = [(p.id, p.name) for p in queries.partners(db)]
    first = today().replace(day=1)
    if not request.args:
        form.start.data, form.end.data = first, today()
    report, status = None, 200
    if request.args and form.validate():
        try:
            report = build_settlement(db, _get(form.partner.data), form.start.data, form.end.data, zone())
        except ValueError as exc:
            form.end.errors = [str(exc)]
            status = 422
    elif request.args:
        status = 422
    if report is not None and request.args.get("format") == "csv":
        out = io.StringIO()
        write_csv(report, out, zone())
        return csv_response(out.getvalue(), f"settlement-{report.partner.id}-{report.start}-{report.end}.csv")
    return render_template(
        "partners/settlement.html", form=form, report=report, csv_args={**request.args.to_dict(), "format": "csv"}
    ), status
