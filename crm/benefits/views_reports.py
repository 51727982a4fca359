"""Cost against premium (with the VIPs over the ceiling) and utilisation, with charts."""

from __future__ import annotations

import json

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.auth.login import current_actor, roles_required
from crm.benefits import bp, ceiling, reports
from crm.benefits.catalogue import current_catalogue
from crm.benefits.forms import KIND_LABELS
from crm.benefits.services import REPORT_ROLES, BenefitError
from crm.clock import business_today as today
from crm.customers.services import visible_customers
from crm.db import get_session
from crm.models import Customer


@bp.get("/cost")
@roles_required(*REPORT_ROLES)
def cost():
    db = get_session()
    catalogue, day = current_catalogue(db), today()
    customers = visible_customers(current_user)
    by_kind = reports.cost_by_kind(db, day, customers)
    chart = {"labels": [str(KIND_LABELS.get(k, k)) for k in by_kind], "values": [float(v) for v in by_kind.values()]}
    requests = ceiling.open_requests(db) if current_user.role in ceiling.DECIDERS else []
    names = {c.id: c for c in db.scalars(select(Customer).where(Customer.id.in_([r.customer_id for r in requests])))}
    return render_template(
        "benefits/cost.html",
        over=reports.over_ceiling(db, customers, day, catalogue),
        catalogue=catalogue,
        day=day,
        by_kind=by_kind,
        chart=json.dumps(chart, ensure_ascii=False),
        requests=requests,
        customers_by_id=names,
    )


@bp.post("/ceiling-exceptions/<int:exception_id>/<any(approve, reject):decision>")
@roles_required(*ceiling.DECIDERS)
def decide_exception(exception_id: int, decision: str):
    """A second person approves (or rejects) a benefit beyond the cost ceiling."""
    db = get_session()
    try:
        ceiling.decide(db, current_actor(), exception_id, decision == "approve")
    except BenefitError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
        flash(
            _("The exception was approved: the benefit can now be given once.")
            if decision == "approve"
            else _("The exception was rejected."),
            "success",
        )
    return redirect(url_for("benefits.cost"), code=303)


@bp.get("/utilisation")
@roles_required(*REPORT_ROLES)
def utilisation():
    db = get_session()
    day = today()
    by_benefit = reports.utilisation_by_benefit(db, day)
    by_partner = reports.utilisation_by_partner(db)
    benefit_chart = {
        "labels": list(by_benefit),
        "series": {k: [v[k] for v in by_benefit.values()] for k in ("granted", "used", "expired")},
    }
    partner_chart = {
        "labels": [p["name"] for p in by_partner],
        "series": {k: [p[k] for p in by_partner] for k in ("issued", "redeemed", "expired")},
    }
    return render_template(
        "benefits/utilisation.html",
        by_benefit=by_benefit,
        by_partner=by_partner,
        day=day,
        benefit_chart=json.dumps(benefit_chart, ensure_ascii=False),
        partner_chart=json.dumps(partner_chart, ensure_ascii=False),
    )
