"""Benefits pages: the menu, and the admin's catalogue and checkup providers.

Bookings, coupons and assistance are in views_services.py and views_assistance.py; cost and
utilisation in views_reports.py (they add their routes to ``bp``).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm.auth.login import current_actor, roles_required
from crm.benefits import bp, health
from crm.benefits import catalogue as cat
from crm.benefits.forms import BenefitForm, NoteForm, PolicyForm, ProviderForm
from crm.benefits.services import BenefitError
from crm.db import get_session
from crm.models.benefits import BenefitCatalogueVersion
from crm.ui import NavItem

NAV = [
    NavItem("benefits.bookings", _l("Health bookings")),
    NavItem("benefits.assistance_cases", _l("Assistance")),
    NavItem("benefits.catalogue", _l("Benefit catalogue")),
    NavItem("benefits.providers", _l("Health providers")),
    NavItem("benefits.cost", _l("Benefit cost"), group="reports"),
    NavItem("benefits.utilisation", _l("Utilisation"), group="reports"),
]


@bp.get("/catalogue")
@roles_required("admin")
def catalogue():
    db = get_session()
    current = cat.current_catalogue(db)
    form = PolicyForm(
        data={
            "cost_ceiling_pct": current.cost_ceiling_pct,
            "assistance_provider": current.assistance_provider,
            "void_coupons_on_exit": current.void_coupons_on_exit,
        }
    )
    versions = list(
        db.scalars(select(BenefitCatalogueVersion).order_by(BenefitCatalogueVersion.version.desc()).limit(20))
    )
    return render_template(
        "benefits/catalogue.html", catalogue=current, form=form, versions=versions, remove_form=NoteForm()
    )


def _save(db, new, note: str) -> bool:
    try:
        cat.save_catalogue(db, current_actor(), new, note)
    except BenefitError as exc:
        flash(str(exc), "error")
        return False
    db.commit()
    flash(_("The catalogue was saved as a new version."), "success")
    return True


@bp.post("/catalogue/policy")
@roles_required("admin")
def catalogue_policy():
    db = get_session()
    current = cat.current_catalogue(db)
    form = PolicyForm()
    if not form.validate_on_submit():
        return render_template(
            "benefits/catalogue.html", catalogue=current, form=form, versions=[], remove_form=NoteForm()
        ), 422
    new = dataclasses.replace(
        current,
        cost_ceiling_pct=form.cost_ceiling_pct.data,
        void_coupons_on_exit=form.void_coupons_on_exit.data,
        assistance_provider=form.assistance_provider.data.strip(),
    )
    _save(db, new, form.note.data)
    return redirect(url_for("benefits.catalogue"))


@bp.route("/catalogue/benefit", methods=["GET", "POST"])
@roles_required("admin")
def catalogue_benefit():
    db = get_session()
    current = cat.current_catalogue(db)
    existing = current.get(request.args.get("code", ""))
    form = BenefitForm(data=dataclasses.asdict(existing) if existing and request.method == "GET" else None)
    if form.validate_on_submit():
        benefit = cat.Benefit(
            form.code.data,
            form.tier.data,
            form.kind.data,
            form.quota.data,
            form.period.data,
            form.unit_cost.data,
            form.face_value.data,
            form.cover_limit_usd.data,
        )
        try:
            benefit.check()
        except BenefitError as exc:
            form.code.errors.append(str(exc))
        else:
            if _save(db, cat.with_benefit(current, benefit), form.note.data):
                return redirect(url_for("benefits.catalogue"))
    status = 422 if request.method == "POST" else 200
    return render_template("benefits/benefit_form.html", form=form, existing=existing), status


@bp.post("/catalogue/benefit/<code>/remove")
@roles_required("admin")
def catalogue_remove(code: str):
    db = get_session()
    current = cat.current_catalogue(db)
    form = NoteForm()
    if current.get(code) is None:
        abort(404)
    if not form.validate_on_submit():
        flash(_("Give a reason for the change."), "error")
    else:
        _save(db, cat.without_benefit(current, code), form.note.data)
    return redirect(url_for("benefits.catalogue"))


@bp.route("/providers", methods=["GET", "POST"])
@roles_required("admin")
def providers():
    db = get_session()
    form = ProviderForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            health.add_provider(
                db,
                current_actor(),
                form.hospital.data,
                form.package.data,
                form.city.data or "",
                Decimal(form.price.data),
            )
            db.commit()
            flash(_("The provider was added."), "success")
            return redirect(url_for("benefits.providers"))
        status = 422
    return render_template(
        "benefits/providers.html", form=form, providers=health.providers(db, active_only=False)
    ), status


@bp.post("/providers/<int:provider_id>/active")
@roles_required("admin")
def provider_active(provider_id: int):
    db = get_session()
    health.set_provider_active(db, current_actor(), provider_id, request.form.get("active") == "1")
    db.commit()
    return redirect(url_for("benefits.providers"))


@bp.app_context_processor
def _labels():
    """Labels in the user's language, for the benefits templates and the customer panel."""
    from crm.benefits.forms import CASE_LABELS, KIND_LABELS, PERIOD_LABELS, STATE_LABELS

    return {
        "benefit_kind_label": lambda k: KIND_LABELS.get(k, k),
        "period_label": lambda p: PERIOD_LABELS.get(p, p),
        "booking_state_label": lambda s: STATE_LABELS.get(s, s),
        "case_label": lambda c: CASE_LABELS.get(c, c),
    }
