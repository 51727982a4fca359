"""Emergency assistance pages: the open-case list with ages, a case with its spend, approvals."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.auth.login import current_actor, roles_required
from crm.benefits import assistance, bp
from crm.benefits.forms import CaseForm, SpendForm
from crm.benefits.services import ASSISTANCE_ROLES, SERVICE_ROLES, BenefitError
from crm.clock import business_today as today
from crm.customers.services import NotVisible, get_customer, visible_customers
from crm.db import get_session, utcnow
from crm.models import Customer
from crm.models.benefits import AssistanceCase, AssistanceEnrolment, AssistanceSpend


def _visible_ids():
    return select(visible_customers(current_user).with_only_columns(Customer.id).subquery().c.id)


@bp.get("/assistance")
@roles_required(*ASSISTANCE_ROLES)
def assistance_cases():
    db = get_session()
    status = request.args.get("status", "open")
    stmt = (
        select(AssistanceCase, Customer)
        .join(Customer, Customer.id == AssistanceCase.customer_id)
        .where(AssistanceCase.customer_id.in_(_visible_ids()))
    )
    if status in ("open", "closed"):
        stmt = stmt.where(AssistanceCase.status == status)
    rows = db.execute(stmt.order_by(AssistanceCase.opened_at).limit(500)).all()
    pending = db.execute(
        select(AssistanceSpend, AssistanceCase)
        .join(AssistanceCase, AssistanceCase.id == AssistanceSpend.case_id)
        .where(AssistanceSpend.state == "pending", AssistanceCase.customer_id.in_(_visible_ids()))
        .order_by(AssistanceSpend.recorded_at)
    ).all()
    return render_template("benefits/assistance_cases.html", rows=rows, status=status, now=utcnow(), pending=pending)


@bp.route("/customers/<int:customer_id>/assistance", methods=["GET", "POST"])
@roles_required(*SERVICE_ROLES)
def open_case(customer_id: int):
    db = get_session()
    try:
        customer = get_customer(db, current_user, customer_id)
    except NotVisible:
        abort(404)
    form = CaseForm()
    if form.validate_on_submit():
        try:
            case = assistance.open_case(
                db,
                current_actor(),
                customer,
                form.category.data,
                form.country.data,
                form.summary.data,
                today(),
                current_user.id,
            )
        except BenefitError as exc:
            form.category.errors = [*form.category.errors, str(exc)]
        else:
            db.commit()
            return redirect(url_for("benefits.assistance_case", case_id=case.id))
    status = 422 if request.method == "POST" else 200
    return render_template("benefits/case_form.html", form=form, customer=customer), status


def _case(db, case_id: int) -> AssistanceCase:
    case = db.scalar(
        select(AssistanceCase).where(AssistanceCase.id == case_id, AssistanceCase.customer_id.in_(_visible_ids()))
    )
    if case is None:
        abort(404)
    return case


def _case_page(db, case, form, status=200):
    spends = list(
        db.scalars(select(AssistanceSpend).where(AssistanceSpend.case_id == case.id).order_by(AssistanceSpend.id))
    )
    return render_template(
        "benefits/case.html",
        case=case,
        customer=db.get(Customer, case.customer_id),
        enrolment=db.get(AssistanceEnrolment, case.enrolment_id),
        spends=spends,
        form=form,
        now=utcnow(),
    ), status


@bp.get("/assistance/cases/<int:case_id>")
@roles_required(*ASSISTANCE_ROLES)
def assistance_case(case_id: int):
    db = get_session()
    return _case_page(db, _case(db, case_id), SpendForm())


@bp.post("/assistance/cases/<int:case_id>/spend")
@roles_required(*ASSISTANCE_ROLES)
def record_spend(case_id: int):
    db = get_session()
    case = _case(db, case_id)
    form = SpendForm()
    if not form.validate_on_submit():
        return _case_page(db, case, form, 422)
    try:
        spend = assistance.record_spend(db, current_actor(), case, Decimal(form.amount_usd.data), form.note.data or "")
    except BenefitError as exc:
        form.amount_usd.errors = [*form.amount_usd.errors, str(exc)]
        return _case_page(db, case, form, 422)
    db.commit()
    if spend.state == "pending":
        flash(_("The amount is beyond the remaining cover: it waits for a risk officer's approval."), "warning")
    else:
        flash(_("The spend was recorded."), "success")
    return redirect(url_for("benefits.assistance_case", case_id=case.id))


@bp.post("/assistance/spends/<int:spend_id>/<any(approve, reject):decision>")
@roles_required("risk_officer")
def decide_spend(spend_id: int, decision: str):
    db = get_session()
    spend = db.get(AssistanceSpend, spend_id)
    if spend is None:
        abort(404)
    try:
        assistance.decide_spend(db, current_actor(), spend_id, decision == "approve")
    except BenefitError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
        flash(_("The decision was recorded."), "success")
    return redirect(url_for("benefits.assistance_case", case_id=spend.case_id))


@bp.post("/assistance/cases/<int:case_id>/close")
@roles_required(*ASSISTANCE_ROLES)
def close_case(case_id: int):
    db = get_session()
    case = _case(db, case_id)
    try:
        assistance.close_case(db, current_actor(), case.id)
    except BenefitError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
    return redirect(url_for("benefits.assistance_case", case_id=case.id))
