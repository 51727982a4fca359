"""Visits and follow-ups, the weekly and monthly visit review, targets and teams."""

from __future__ import annotations

import datetime as dt
import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.auth.login import current_actor, roles_required
from crm.clock import business_today as today
from crm.customers.services import NotVisible, get_customer
from crm.db import get_session
from crm.models import User
from crm.models.workspace import Team
from crm.workspace import bp, metrics, portfolio, snapshots, targets, visits
from crm.workspace.forms import TargetForm, TeamForm, VisitForm


def _names(db) -> dict[int, str]:
    return {u.id: u.full_name or u.email for u in db.scalars(select(User).where(User.role == "account_manager"))}


@bp.route("/customers/<int:customer_id>/visits/new", methods=["GET", "POST"])
@roles_required("account_manager")
def log_visit(customer_id: int):
    """Log a visit, call or event with one of the manager's own customers."""
    db = get_session()
    try:
        customer = get_customer(db, current_user, customer_id)
    except NotVisible:
        abort(404)
    form = VisitForm()
    if request.method == "GET":
        form.visit_date.data = today()
    if form.validate_on_submit():
        data = visits.VisitInput(
            form.kind.data, form.visit_date.data, form.outcome.data, form.next_step.data or "", form.next_step_due.data
        )
        try:
            visits.log_visit(db, current_actor(), current_user, customer.id, data, today())
        except visits.VisitError as exc:
            form.outcome.errors.append(str(exc))
        else:
            db.commit()
            flash(_("The visit was logged."), "success")
            return redirect(url_for("customers.show", customer_id=customer.id))
    status = 422 if request.method == "POST" else 200
    return render_template("workspace/visit_form.html", form=form, c=customer), status


@bp.post("/workspace/visits/<int:visit_id>/done")
@roles_required("account_manager")
def follow_up_done(visit_id: int):
    db = get_session()
    try:
        visits.complete_follow_up(db, current_actor(), current_user, visit_id)
    except visits.VisitError:
        abort(404)
    db.commit()
    flash(_("Follow-up marked as done."), "success")
    return redirect(
        request.referrer
        if request.referrer and request.referrer.startswith(request.host_url)
        else url_for("workspace.visits_page")
    )


@bp.get("/workspace/visits")
@roles_required("admin", "account_manager")
def visits_page():
    """Follow-ups due, the weekly visit count per manager and a month's summary."""
    db, day = get_session(), today()
    month = request.args.get("month", "")
    try:  # fromisoformat, not int(): a 25-digit year would overflow date() (a 500)
        first = dt.date.fromisoformat(f"{month}-01") if month else day
        year_, month_ = first.year, first.month
    except ValueError:
        year_, month_ = day.year, day.month
    mondays, weekly = visits.weekly_counts(db, current_user, day)
    names = _names(db)
    chart = {
        "labels": [m.isoformat() for m in mondays],
        "series": [{"name": names.get(mid, str(mid)), "values": counts} for mid, counts in sorted(weekly.items())],
    }
    return render_template(
        "workspace/visits.html",
        due=visits.due_follow_ups(db, current_user, day),
        today=day,
        mondays=mondays,
        weekly=sorted(weekly.items()),
        names=names,
        month=f"{year_:04d}-{month_:02d}",
        summary=visits.monthly_summary(db, current_user, year_, month_),
        rates=sorted(visits.face_to_face_rates(db, current_user, day)[1].items()),
        recent=visits.recent_visits(db, current_user, limit=20),
        chart=json.dumps(chart, ensure_ascii=False),
    )


def _target_form(db) -> TargetForm:
    form = TargetForm()
    form.subject.choices = [(f"manager:{m.id}", m.full_name or m.email) for m in portfolio.active_managers(db)] + [
        (f"team:{t.id}", _("Team") + f": {t.name}") for t in db.scalars(select(Team).order_by(Team.name))
    ]
    return form


def _team_form(db) -> TeamForm:
    form = TeamForm(prefix="team")
    form.members.choices = [(m.id, m.full_name or m.email) for m in portfolio.active_managers(db)]
    return form


def _targets_page(db, form, team_form, status=200):
    day = today()
    year = request.args.get("year", "")
    year = int(year) if year.isdigit() and 2000 <= int(year) <= 2100 else day.year
    snapshot, figures = snapshots.figures(db, "all")
    lt = (figures or {}).get("long_term_new", {})
    by_manager = lt.get("by_manager", {}) if lt.get("year") == year else {}
    if form.year.data is None:
        form.year.data = year
    rows = targets.plan_vs_actual(db, current_user, year, day, by_manager)
    persistency = targets.persistency(
        db, current_user, (figures or {}).get("persistency_13m", {}).get("by_manager", {})
    )
    teams = list(db.scalars(select(Team).order_by(Team.name)))
    return render_template(
        "workspace/targets.html",
        rows=rows,
        year=year,
        snapshot=snapshot,
        form=form,
        team_form=team_form,
        teams=teams,
        premium_known=bool(by_manager),
        time_progress=metrics.time_progress(year, day),
        persistency=persistency,
    ), status


@bp.get("/workspace/targets")
@roles_required("admin", "account_manager")
def targets_page():
    db = get_session()
    return _targets_page(db, _target_form(db), _team_form(db))


@bp.post("/workspace/targets")
@roles_required("admin")
def set_target():
    db = get_session()
    form = _target_form(db)
    if form.validate_on_submit():
        kind, _sep, ident = form.subject.data.partition(":")
        try:
            targets.set_target(
                db,
                current_actor(),
                form.year.data,
                form.metric.data,
                form.amount.data,
                manager_id=int(ident) if kind == "manager" else None,
                team_id=int(ident) if kind == "team" else None,
            )
        except targets.TargetError as exc:
            form.amount.errors.append(str(exc))
        else:
            db.commit()
            flash(_("The target was saved."), "success")
            return redirect(url_for("workspace.targets_page", year=form.year.data))
    return _targets_page(db, form, _team_form(db), 422)


@bp.post("/workspace/teams")
@roles_required("admin")
def create_team():
    db = get_session()
    team_form = _team_form(db)
    if team_form.validate_on_submit():
        try:
            targets.create_team(db, current_actor(), team_form.name.data, team_form.members.data or [])
        except targets.TargetError as exc:
            team_form.name.errors.append(str(exc))
        else:
            db.commit()
            flash(_("The team was created."), "success")
            return redirect(url_for("workspace.targets_page"))
    return _targets_page(db, _target_form(db), team_form, 422)
