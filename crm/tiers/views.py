"""Tier runs (preview, publish, progress), the tier policy, the risk model and overrides."""

from __future__ import annotations

import datetime as dt
import json

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from crm.auth.login import current_actor, roles_required
from crm.clock import business_today
from crm.customers.services import NotVisible, get_customer
from crm.db import get_session
from crm.forms import form_text
from crm.jobs import moves as run_moves
from crm.jobs import recalc
from crm.models import TierPolicyVersion, TierRun
from crm.tiers import bp, model_page, models_store
from crm.tiers import overrides as ov
from crm.tiers.forms import TierPolicyForm
from crm.tiers.policy import current_policy, save_policy
from crm.ui import NavItem

RUNNERS = ("risk_officer", "admin")
NAV = [NavItem("tiers.runs", _l("Tier runs"), RUNNERS)]


@bp.get("/runs")
@roles_required(*RUNNERS)
def runs():
    db = get_session()
    rows = list(db.scalars(select(TierRun).order_by(TierRun.id.desc()).limit(50)))
    trend = [r for r in rows if r.state == "completed" and r.mode == "publish"][::-1]
    chart = {
        "labels": [str(r.as_of) for r in trend],
        "series": {
            t: [json.loads(r.counts or "{}").get(t, 0) for r in trend] for t in ("vip", "standard", "watchlist")
        },
    }
    return render_template(
        "tiers/runs.html",
        runs=rows,
        today=business_today(),
        chart=json.dumps(chart),
        active=next((r for r in rows if r.state in ("queued", "running")), None),
    )


@bp.post("/runs")
@roles_required(*RUNNERS)
def start_run():
    """Queue a preview or a publication for the scheduler process (the web never runs one)."""
    mode = "preview" if request.form.get("mode") == "preview" else "publish"
    try:
        as_of = dt.date.fromisoformat(request.form.get("as_of", "")) if request.form.get("as_of") else business_today()
    except ValueError:
        flash(_("The as-of date is not a date."), "error")
        return redirect(url_for("tiers.runs"))
    req = recalc.RunRequest(as_of=as_of, actor=current_actor(), trigger="ui", mode=mode)
    db = get_session()
    try:
        run_id = recalc.queue(db, req)
    except recalc.AlreadyRunning as exc:
        flash(_("A recalculation is already queued or running: %(what)s", what=str(exc)), "warning")
        return redirect(url_for("tiers.runs"))
    db.commit()
    return redirect(url_for("tiers.run", run_id=run_id))


def _run_or_404(run_id: int) -> TierRun:
    run = get_session().get(TierRun, run_id)
    if run is None:
        abort(404)
    return run


@bp.get("/runs/<int:run_id>")
@roles_required(*RUNNERS)
def run(run_id: int):
    run = _run_or_404(run_id)
    waiting, delivery_error = run_moves.pending(get_session(), run.id)
    return render_template(
        "tiers/run.html",
        run=run,
        counts=json.loads(run.counts or "{}"),
        moves=json.loads(run.moves or "{}"),
        sample=json.loads(run.sample or "[]"),
        waiting=waiting,
        delivery_error=delivery_error,
    )


@bp.get("/runs/<int:run_id>.json")
@roles_required(*RUNNERS)
def run_status(run_id: int):
    run = _run_or_404(run_id)
    return jsonify(id=run.id, state=run.state, progress=run.progress, error=run.error)


@bp.route("/policy", methods=["GET", "POST"])
@roles_required("admin", "risk_officer")
def policy():
    """The tier policy: admins edit (a new version each time); risk officers read."""
    if request.method == "POST" and current_user.role != "admin":
        abort(403)
    db = get_session()
    current = current_policy(db, current_app.config["CRM_SETTINGS"].tier_policy_file)
    form = TierPolicyForm()
    if not form.is_submitted():
        form.fill(current)
    elif form.validate():
        try:
            save_policy(db, current_actor(), form.policy_values(), form.note.data or "")
        except ValueError as exc:
            form.add_policy_error(exc)
        else:
            db.commit()
            flash(_("The tier policy was saved as a new version; the next run uses it."), "success")
            return redirect(url_for("tiers.policy"))
    versions = list(db.scalars(select(TierPolicyVersion).order_by(TierPolicyVersion.id.desc()).limit(20)))
    return render_template(
        "tiers/policy.html", form=form, current=current, versions=versions, editable=current_user.role == "admin"
    ), 422 if form.is_submitted() else 200


@bp.get("/model")
@roles_required(*RUNNERS)
def model():
    record = models_store.newest(get_session())
    return render_template("tiers/model.html", record=record, page=model_page.describe(record) if record else None)


@bp.get("/overrides")
@roles_required(*ov.OVERRIDE_ROLES)
def overrides():
    db = get_session()
    rows = ov.open_overrides(db)
    states = ov.states_of(db, rows)
    return render_template(
        "tiers/overrides.html",
        overrides=rows,
        awaiting={o.id for o in rows if ov.awaiting_confirmation(o, states.get(o.customer_id))},
    )


@bp.post("/customers/<int:customer_id>/override")
@roles_required(*ov.OVERRIDE_ROLES)
def request_override(customer_id: int):
    db = get_session()
    try:
        get_customer(db, current_user, customer_id)
        expires = dt.date.fromisoformat(request.form.get("expires_on", ""))
        ov.request_override(
            db,
            current_actor(),
            current_user,
            customer_id,
            request.form.get("tier", ""),
            form_text("reason")[:500],
            expires,
            business_today(),
        )
    except NotVisible:
        abort(404)
    except (ValueError, ov.OverrideError) as exc:
        flash(_("The tier was not pinned: %(why)s", why=str(exc)), "error")
    else:
        db.commit()
        flash(_("The override was recorded."), "success")
    return redirect(url_for("customers.show", customer_id=customer_id))


@bp.post("/overrides/<int:override_id>/<action>")
@roles_required(*ov.OVERRIDE_ROLES)
def decide_override(override_id: int, action: str):
    db = get_session()
    reason = form_text("reason")[:500]
    try:
        if action in ("approve", "reject"):
            ov.decide(db, current_actor(), current_user, override_id, action == "approve", reason)
        elif action == "confirm":
            ov.confirm(db, current_actor(), current_user, override_id, reason)
        elif action == "revoke":
            ov.revoke(db, current_actor(), current_user, override_id, reason)
        else:
            abort(404)
    except ov.OverrideError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
        flash(_("Done."), "success")
    return redirect(url_for("tiers.overrides"))
