"""Pages where an account manager serves their VIP: checkups, appointments, coupons, and the
health details that only the customer's manager (and admins) see, each view logged."""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.auth.login import current_actor, roles_required
from crm.benefits import bp, ceiling, coupons, health
from crm.benefits.forms import AppointmentForm, CheckupForm, CouponForm
from crm.benefits.services import SERVICE_ROLES, BenefitError, may_serve, sees_health_details
from crm.clock import business_today as today
from crm.customers.services import NotVisible, get_customer, visible_customers
from crm.db import get_session
from crm.models import Customer
from crm.models.benefits import HealthBooking


def _served_customer(db, customer_id: int):
    """The customer, if the user may book for them: 404 when not visible, 403 otherwise."""
    try:
        customer = get_customer(db, current_user, customer_id)
    except NotVisible:
        abort(404)
    if not may_serve(current_user, customer):
        abort(403)
    return customer


def _over_ceiling(db, refused: ceiling.OverCeiling) -> str:
    """Record the request for a second person's approval (committed), and say so."""
    db.rollback()
    ceiling.request_exception(db, current_actor(), refused)
    db.commit()
    return _(
        "This would take the customer over the benefit cost ceiling (cost %(cost)s, ceiling %(ceiling)s). "
        "An approval was requested from an admin or a risk officer; try again once it is given.",
        cost=f"{refused.cost + refused.amount:,.2f}",
        ceiling=f"{refused.ceiling:,.2f}",
    )


def _booked(db, make) -> str | None:
    """Run the booking; commit and say so, or return the reason it was refused."""
    try:
        make()
    except ceiling.OverCeiling as exc:
        return _over_ceiling(db, exc)
    except BenefitError as exc:
        return str(exc)
    db.commit()
    flash(_("The booking was requested."), "success")
    return None


@bp.route("/customers/<int:customer_id>/checkup", methods=["GET", "POST"])
@roles_required(*SERVICE_ROLES)
def book_checkup(customer_id: int):
    db = get_session()
    customer = _served_customer(db, customer_id)
    form = CheckupForm()
    form.provider.choices = [(p.id, f"{p.hospital} · {p.package} · ¥{p.price:,.2f}") for p in health.providers(db)]
    if request.method == "GET":
        form.preferred_date.data = today() + dt.timedelta(days=14)
    if form.validate_on_submit():
        error = _booked(
            db,
            lambda: health.book(
                db,
                current_actor(),
                current_user.id,
                customer,
                "checkup",
                form.preferred_date.data,
                today(),
                provider_id=form.provider.data,
            ),
        )
        if error is None:
            return redirect(url_for("customers.show", customer_id=customer.id))
        form.preferred_date.errors = [*form.preferred_date.errors, error]
    status = 422 if request.method == "POST" else 200
    return render_template("benefits/book.html", form=form, customer=customer, kind="checkup"), status


@bp.route("/customers/<int:customer_id>/appointment", methods=["GET", "POST"])
@roles_required(*SERVICE_ROLES)
def book_appointment(customer_id: int):
    db = get_session()
    customer = _served_customer(db, customer_id)
    form = AppointmentForm()
    if form.validate_on_submit():
        error = _booked(
            db,
            lambda: health.book(
                db,
                current_actor(),
                current_user.id,
                customer,
                "appointment",
                form.preferred_date.data,
                today(),
                hospital=form.hospital.data,
                department=form.department.data,
            ),
        )
        if error is None:
            return redirect(url_for("customers.show", customer_id=customer.id))
        form.preferred_date.errors = [*form.preferred_date.errors, error]
    status = 422 if request.method == "POST" else 200
    return render_template("benefits/book.html", form=form, customer=customer, kind="appointment"), status


@bp.post("/bookings/<int:booking_id>/<any(confirmed, attended, no_show, cancelled):state>")
@roles_required(*SERVICE_ROLES)
def booking_transition(booking_id: int, state: str):
    db = get_session()
    booking = db.get(HealthBooking, booking_id)
    if booking is None:
        abort(404)
    _served_customer(db, booking.customer_id)
    try:
        health.transition(db, current_actor(), booking_id, state, today())
    except BenefitError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
        flash(_("The booking was updated."), "success")
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/") and not back.startswith("//") else url_for("benefits.bookings"))


@bp.get("/bookings")
@roles_required(*SERVICE_ROLES)
def bookings():
    """The bookings of the customers the user serves, MASKED: no hospital or package on this
    page. Underwriters, claims reviewers and risk officers book nothing: not theirs to open."""
    db = get_session()
    visible = visible_customers(current_user).with_only_columns(Customer.id).subquery()
    rows = db.execute(
        select(HealthBooking, Customer)
        .join(Customer, Customer.id == HealthBooking.customer_id)
        .where(HealthBooking.customer_id.in_(select(visible.c.id)))
        .order_by(HealthBooking.id.desc())
        .limit(200)
    ).all()
    return render_template("benefits/bookings.html", rows=rows, can_serve=lambda c: may_serve(current_user, c))


@bp.post("/customers/<int:customer_id>/health")
@roles_required("admin", "account_manager")
def health_details(customer_id: int):
    """The customer's bookings with hospital and package: an explicit action, audited."""
    db = get_session()
    try:
        customer = get_customer(db, current_user, customer_id)
    except NotVisible:
        abort(404)
    if not sees_health_details(current_user, customer):
        abort(403)
    rows = health.bookings_for(db, [customer.id])
    health.record_health_view(db, current_actor(), customer.id, [b.id for b in rows])
    db.commit()
    return render_template("benefits/health_details.html", customer=customer, bookings=rows)


@bp.route("/customers/<int:customer_id>/coupon", methods=["GET", "POST"])
@roles_required(*SERVICE_ROLES)
def issue_coupon(customer_id: int):
    db = get_session()
    customer = _served_customer(db, customer_id)
    form = CouponForm()
    form.partner.choices = [(p.id, f"{p.name} ({p.category})") for p in coupons.active_partners(db)]
    if request.method == "GET":
        form.expires_on.data = today() + dt.timedelta(days=90)
    if form.validate_on_submit():
        try:
            coupon = coupons.issue_from_entitlement(
                db, current_actor(), customer, form.partner.data, form.expires_on.data, today()
            )
        except ceiling.OverCeiling as exc:
            form.partner.errors = [*form.partner.errors, _over_ceiling(db, exc)]
        except BenefitError as exc:
            form.partner.errors = [*form.partner.errors, str(exc)]
        else:
            db.commit()
            flash(_("Coupon %(code)s was issued.", code=coupon.code), "success")
            return redirect(url_for("customers.show", customer_id=customer.id))
    status = 422 if request.method == "POST" else 200
    return render_template("benefits/coupon_form.html", form=form, customer=customer), status
