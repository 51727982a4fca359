"""Tier runs (preview, publish, progress), the tier policy, the risk model and overrides."""

from __future__ import annotations

import datetime as dt
import json

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from flask_login import current_user
from sqlalchemy import select

from crm import csvout, listing
from crm.auth.login import current_actor, roles_required
from crm.clock import business_today
from crm.customers.services import NotVisible, get_customer
from crm.db import get_db, get_session
from crm.forms import form_text
from crm.jobs import moves as run_moves
from crm.jobs import recalc
from crm.labels import label
from crm.listing import names_by_email
from crm.models import Customer, TierPolicyVersion, TierRun
from crm.request_args import int_arg
from crm.tiers import bp, lists, model_page, models_store, preview
from crm.tiers import overrides as ov
from crm.tiers.forms import PARAMETERS, SECTIONS, TierPolicyForm
from crm.tiers.policy import DRAFT_PREFIX, current_policy, save_policy
from crm.ui import NavItem

RUNNERS = ("risk_officer", "admin")
NAV = [NavItem("tiers.runs", _l("Tier runs"), RUNNERS)]


def _sort(columns) -> tuple[listing.Sort, int]:
    """A list's sort and page from the URL; a sort it does not offer is a 400."""
    try:
        sort = listing.parse_sort(request.args.get("sort_to") or request.args.get("sort"), columns)
    except listing.BadSort:
        abort(400)
    return sort, 0 if "sort_to" in request.args else int_arg("page", 0, high=100_000)


@bp.get("/runs")
@roles_required(*RUNNERS)
def runs():
    db = get_session()
    sort, page = _sort(lists.RUN_COLUMNS)
    stmt = lists.runs_query(sort)
    rows, more = listing.page_of(db, stmt, page)
    rows = [r[0] for r in rows]
    recent = db.scalars(lists.runs_query().limit(50))
    trend = [r for r in recent if r.state == "completed" and r.mode == "publish"][::-1]
    chart = {
        # One label per run: two runs as of the same day are two points, not one date twice.
        "labels": [_("Run %(id)s · %(date)s", id=r.id, date=r.as_of) for r in trend],
        "series": {
            t: [json.loads(r.counts or "{}").get(t, 0) for r in trend] for t in ("vip", "standard", "watchlist")
        },
    }
    active = db.scalar(select(TierRun).where(TierRun.state.in_(("queued", "running"))).limit(1))
    return render_template(
        "tiers/runs.html",
        runs=rows,
        sort=sort,
        page=page,
        more=more,
        total=listing.count(db, stmt),
        names=names_by_email(db, [r.started_by for r in rows]),
        today=business_today(),
        chart=json.dumps(chart),
        active=active,
    )


@bp.get("/runs/export")
@roles_required(*RUNNERS)
def runs_export():
    """The runs as listed (same sort) as a CSV file."""
    db = get_session()
    sort, _page = _sort(lists.RUN_COLUMNS)
    stmt = lists.runs_query(sort)
    runs = [r[0] for r in db.execute(stmt.limit(listing.EXPORT_LIMIT))]
    names = names_by_email(db, [r.started_by for r in runs])
    header = [_("Run"), _("Mode"), _("State"), _("As of"), _("Started by"), _("Started from"), _("Duration (s)")]
    header += [_("Customers"), _("Changed"), pgettext("tier policy", "Policy"), _("Portfolio loss ratio")]
    rows = [
        [
            r.id,
            _("Preview") if r.mode == "preview" else _("Publish"),
            str(label(r.state, "job_state")),
            r.as_of,
            names.get(r.started_by, r.started_by),
            str(label(r.trigger, "trigger")),
            round(r.duration_s, 1) if r.duration_s is not None else None,
            r.customers,
            r.changed,
            r.policy_version,
            csvout.four_decimals(r.portfolio_loss_ratio),
        ]
        for r in runs
    ]
    return csvout.csv_response(csvout.to_text(header, rows), "tier-runs.csv")


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
    db = get_session()
    run = _run_or_404(run_id)
    waiting, delivery_error = run_moves.pending(db, run.id)
    sample = json.loads(run.sample or "[]")
    return render_template(
        "tiers/run.html",
        run=run,
        counts=json.loads(run.counts or "{}"),
        moves=json.loads(run.moves or "{}"),
        sample=sample,
        customers=_customers(db, [s["customer_id"] for s in sample]),
        names=names_by_email(db, [run.started_by]),
        draft=(run.policy_version or "").startswith(DRAFT_PREFIX),
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
    """The tier policy: admins edit (a new version each time), after a dry run of the draft
    if they like (``action=preview``: how many customers would move, nothing saved); risk
    officers read."""
    if request.method == "POST" and current_user.role != "admin":
        abort(403)
    db = get_session()
    current = current_policy(db, current_app.config["CRM_SETTINGS"].tier_policy_file)
    form = TierPolicyForm()
    previewed, status = None, 200
    if not form.is_submitted():
        form.fill(current)
    elif not form.validate():
        status = 422
    elif request.form.get("action") == "preview":
        previewed, status = _preview(form)
    else:
        try:
            save_policy(db, current_actor(), form.policy_values(), form.note.data or "")
        except ValueError as exc:
            form.add_policy_error(exc)
            status = 422
        else:
            db.commit()
            flash(_("The tier policy was saved as a new version; the next run uses it."), "success")
            return redirect(url_for("tiers.policy"))
    versions = list(db.scalars(select(TierPolicyVersion).order_by(TierPolicyVersion.id.desc()).limit(20)))
    return render_template(
        "tiers/policy.html",
        form=form,
        current=current,
        versions=versions,
        editable=current_user.role == "admin",
        parameters=PARAMETERS,
        sections=SECTIONS,
        preview=previewed,
        sample_customers=_customers(db, [s["customer_id"] for s in previewed.sample] if previewed else []),
        authors=names_by_email(db, [v.created_by for v in versions]),
    ), status


def _customers(db, ids) -> dict[int, Customer]:
    """The customers of a run's sample, to name them (runners may see every customer)."""
    if not ids:
        return {}
    return {c.id: c for c in db.scalars(select(Customer).where(Customer.id.in_(ids)))}


def _preview(form: TierPolicyForm):
    """The draft's dry run, as of today: (Preview or None, HTTP status)."""
    # The run writes in transactions of its own: this request's (which holds SQLite's write
    # lock, as every POST's does) ends first, having written nothing; what the run needs of
    # the request is read before, as the rollback expires the loaded user.
    actor, values = current_actor(), form.policy_values()
    get_session().rollback()
    try:
        result = preview.preview_draft(get_db(), actor, values, business_today())
    except (recalc.AlreadyRunning, recalc.LostSlot):  # another run holds (or took over) the slot
        flash(_("A recalculation is queued or running; try the preview again when it has finished."), "warning")
        return None, 409
    except ValueError as exc:
        form.add_policy_error(exc)
        return None, 422
    return result, 200


@bp.get("/model")
@roles_required(*RUNNERS)
def model():
    record = models_store.newest(get_session())
    return render_template("tiers/model.html", record=record, page=model_page.describe(record) if record else None)


@bp.get("/overrides")
@roles_required(*ov.OVERRIDE_ROLES)
def overrides():
    db = get_session()
    sort, page = _sort(lists.OVERRIDE_COLUMNS)
    stmt = lists.overrides_query(sort)
    rows, more = listing.page_of(db, stmt, page)
    states = ov.states_of(db, [r[0] for r in rows])
    return render_template(
        "tiers/overrides.html",
        rows=rows,
        sort=sort,
        page=page,
        more=more,
        total=listing.count(db, stmt),
        awaiting={o.id for o, *_rest in rows if ov.awaiting_confirmation(o, states.get(o.customer_id))},
    )


@bp.get("/overrides/export")
@roles_required(*ov.OVERRIDE_ROLES)
def overrides_export():
    """The open overrides as listed (same sort) as a CSV file."""
    sort, _page = _sort(lists.OVERRIDE_COLUMNS)
    header = [_("Override"), _("Customer"), _("Reference"), _("Tier"), _("Reason"), _("Until"), _("State")]
    header += [_("Requested by"), _("Requested on")]
    rows = listing.export_rows(
        get_session(),
        lists.overrides_query(sort),
        lambda r: [
            r[0].id,
            r[1],
            r[2],
            str(label(r[0].tier, "tier")),
            r[0].reason,
            r[0].expires_on,
            _("awaiting approval") if r[0].status == "pending" else _("active"),
            listing.person_name(r[4], r[3]),
            r[0].requested_at.date(),
        ],
    )
    return csvout.csv_response(csvout.to_text(header, rows), "tier-overrides.csv")


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
    done = {
        "approve": _l("Override %(id)s approved: the pinned tier applies.", id=override_id),
        "reject": _l("Override %(id)s rejected: the computed tier stays.", id=override_id),
        "confirm": _l("Override %(id)s confirmed: the pin now holds against the watchlist.", id=override_id),
        "revoke": _l("Override %(id)s revoked: the computed tier applies again.", id=override_id),
    }
    if action not in done:
        abort(404)
    try:
        if action in ("approve", "reject"):
            ov.decide(db, current_actor(), current_user, override_id, action == "approve", reason)
        elif action == "confirm":
            ov.confirm(db, current_actor(), current_user, override_id, reason)
        else:
            ov.revoke(db, current_actor(), current_user, override_id, reason)
    except ov.OverrideError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
        flash(str(done[action]), "success")
    return redirect(url_for("tiers.overrides"))
