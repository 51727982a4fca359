"""Workspace pages: the dashboard, the portfolio, VIPs without a manager and reassignment.

Visits and targets (views_visits.py) and reports (views_reports.py) add theirs to the same ``bp``.
"""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm import csvout, listing
from crm.auth.login import STAFF, current_actor, roles_required
from crm.clock import business_today as today
from crm.customers.services import NotVisible, RevealRequired, get_customer
from crm.db import get_session
from crm.models import User
from crm.request_args import int_arg
from crm.ui import NavItem, score
from crm.validators import mask_phone
from crm.workspace import bp, feeds, portfolio, snapshots, visits, warnings
from crm.workspace import today as today_work
from crm.workspace.forms import ReassignForm

NAV = [
    NavItem("workspace.portfolio_page", _l("My customers"), ("account_manager",)),
    NavItem("workspace.portfolio_page", _l("Portfolios"), ("admin",)),
    NavItem("workspace.visits_page", _l("Visits and follow-ups")),
    NavItem("workspace.unassigned_vips", _l("VIPs without an account manager")),
    NavItem("workspace.dashboard", _l("Dashboard"), group="reports"),
    NavItem("workspace.reports_page", _l("Reports"), group="reports"),
    NavItem("workspace.targets_page", _l("Targets"), group="reports"),
    NavItem("workspace.export_page", _l("Data export"), group="admin"),
    NavItem("workspace.warnings_page", _l("Early warnings"), group="admin"),
]
TIER_ORDER = ("vip", "standard", "watchlist")


@bp.app_context_processor
def _labels() -> dict:
    from crm.workspace.forms import KIND_LABELS, METRIC_LABELS
    from crm.workspace.tables import COLUMN_LABELS, key_label

    return {
        "visit_kind_label": lambda code: KIND_LABELS.get(code, code),
        "metric_label": lambda code: METRIC_LABELS.get(code, code),
        "column_label": lambda code: COLUMN_LABELS.get(code, code),
        "report_key_label": key_label,
    }


def _trend(db, user) -> list[dict]:
    """Tier counts over time: every run's for the whole portfolio, a manager's own from snapshots."""
    if user.role != "account_manager":
        return feeds.tier_trend(db)
    return [
        {"as_of": as_of.isoformat(), "counts": payload.get("tiers", {})}
        for as_of, payload in snapshots.scope_history(db, snapshots.scope_for(user))
    ]


def _share(counts: dict, tier: str) -> float | None:
    """The tier's share of the customers tiered in one run or snapshot (None if it tiered none)."""
    total = sum(counts.values())
    return round(counts.get(tier, 0) / total, 4) if total else None


@bp.get("/dashboard")
@roles_required(*STAFF)
def dashboard():
    db, day = get_session(), today()
    snapshot, figures = snapshots.figures(db, snapshots.scope_for(current_user))
    trend = _trend(db, current_user)
    run = today_work.latest_run(db)
    queues = feeds.queue_figures(db, day) if current_user.role != "account_manager" else None
    loss_by_tier = {r["key"]: r["loss_ratio"] for r in (figures or {}).get("loss_ratio", {}).get("tier", [])}
    charts = {
        "tiers": {
            "labels": [str(_tier_name(t)) for t in TIER_ORDER],
            "values": [(figures or {}).get("tiers", {}).get(t, 0) for t in TIER_ORDER],
        },
        "trend": {
            # One label per run: two runs as of the same day are two points, not one date twice.
            "labels": [
                _("Run %(id)s · %(date)s", id=r["id"], date=r["as_of"]) if "id" in r else r["as_of"] for r in trend
            ],
            "names": [str(_tier_name(t)) for t in TIER_ORDER],
            # Shares, not counts: a portfolio that grows does not look like a tier that grows.
            "series": [[_share(r["counts"], t) for r in trend] for t in TIER_ORDER],
        },
        "loss": {
            "labels": [str(_tier_name(t)) for t in TIER_ORDER],
            "name": _("Loss ratio"),
            "values": [loss_by_tier.get(t) for t in TIER_ORDER],
        },
    }
    return render_template(
        "workspace/dashboard.html",
        snapshot=snapshot,
        figures=figures,
        queues=queues,
        run=run,
        moves=_moves(db, current_user, run),
        overdue_cases=sum(q["overdue"] for q in queues.values()) if queues else None,
        due=visits.due_follow_ups(db, current_user, day, limit=10)
        if current_user.role in ("account_manager", "admin")
        else [],
        due_count=visits.count_due(db, current_user, day)
        if current_user.role in ("account_manager", "admin")
        else None,
        charts={k: json.dumps(v, ensure_ascii=False) for k, v in charts.items()},
        has_trend=bool(trend),
        today=day,
        breaches=warnings.visible_breaches(figures, current_user.role),
        indicators=warnings.BY_CODE,
    )


def _moves(db, user, run) -> list[tuple[str | None, str, int]]:
    """(from tier, to tier, customers) of the newest run: the whole portfolio's, from the run's
    own counts, or an account manager's own customers', from their tier states."""
    if run is None:
        return []
    if user.role == "account_manager":
        counts = today_work.move_counts(today_work.run_moves(db, user.id, run.id))
    else:
        counts = {}
        for key, n in json.loads(run.moves or "{}").items():
            old, _arrow, new = key.partition("→")
            counts[(None if old in ("", "new") else old, new)] = n
    return sorted(((old, new, n) for (old, new), n in counts.items()), key=lambda m: -m[2])


def _tier_name(code: str):
    from crm.ui import LABELS

    return LABELS["tier"].get(code, _("not scored") if code == "unscored" else code)


def _portfolio_args(db):
    """The portfolio's manager, search, sort and page from the request (the search only from a
    POST body, so that it never becomes part of a URL). A sort it does not offer is a 400."""
    values = request.form if request.method == "POST" else request.args
    managers = portfolio.active_managers(db) if current_user.role == "admin" else []
    manager_id = int_arg("manager", managers[0].id if managers else None, values=values)
    try:
        sort = listing.parse_sort(values.get("sort_to") or values.get("sort"), portfolio.SORT_COLUMNS)
    except listing.BadSort:
        abort(400)
    q = request.form.get("q", "")[:100] if request.method == "POST" else ""
    page = 0 if "sort_to" in values else int_arg("page", 0, values=values)
    return managers, manager_id, q, sort, page


@bp.route("/workspace/portfolio", methods=["GET", "POST"])
@roles_required("admin", "account_manager")
def portfolio_page():
    db = get_session()
    managers, manager_id, q, sort, page = _portfolio_args(db)
    refused = False
    try:
        rows, more = portfolio.my_customers(db, current_user, manager_id, page, q, sort)
        total = listing.count(db, portfolio.portfolio_query(current_user, manager_id, q, sort))
    except RevealRequired:
        rows, more, total, refused, q = [], False, 0, True, ""
    return render_template(
        "workspace/portfolio.html",
        rows=rows,
        more=more,
        page=page,
        managers=managers,
        manager_id=manager_id,
        q=q,
        sort=sort,
        total=total,
        refused=refused,
    )


@bp.post("/workspace/portfolio/export")
@roles_required("admin", "account_manager")
def portfolio_export():
    """The portfolio as shown (same manager, search and sort; the phone masked) as a CSV file."""
    db = get_session()
    _managers, manager_id, q, sort, _page = _portfolio_args(db)
    try:
        stmt = portfolio.portfolio_query(current_user, manager_id, q, sort)
    except RevealRequired:
        abort(400)
    header = [_("Reference"), _("Name"), _("Tier"), _("Value score"), _("Risk score"), _("City"), _("Phone")]
    rows = listing.export_rows(
        db,
        stmt,
        lambda r: [
            r[0].customer_ref,
            r[0].name,
            _tier_name(r[1].tier) if r[1] else "",
            score(r[1].value_score) if r[1] else "",
            score(r[1].risk_score) if r[1] else "",
            r[0].city,
            mask_phone(r[0].phone),
        ],
    )
    return csvout.csv_response(csvout.to_text(header, rows), "portfolio.csv")


@bp.get("/workspace/unassigned-vips")
@roles_required("admin")
def unassigned_vips():
    db = get_session()
    form = ReassignForm()
    form.manager.choices = [(m.id, m.full_name or m.email) for m in portfolio.active_managers(db)]
    return render_template("workspace/unassigned.html", rows=portfolio.unassigned_vips(db), form=form)


@bp.post("/workspace/customers/<int:customer_id>/reassign")
@roles_required("admin")
def reassign(customer_id: int):
    """Give a customer to another account manager (audited); back to where the admin came from."""
    db = get_session()
    try:
        get_customer(db, current_user, customer_id)
    except NotVisible:
        abort(404)
    form = ReassignForm()
    form.manager.choices = [(m.id, m.full_name or m.email) for m in portfolio.active_managers(db)]
    if not form.validate_on_submit():
        flash(_("Choose an active account manager."), "error")
        return redirect(url_for("customers.show", customer_id=customer_id), code=303)
    try:
        portfolio.reassign(db, current_actor(), customer_id, form.manager.data)
    except portfolio.ReassignError as exc:
        flash(str(exc), "error")
        return redirect(url_for("customers.show", customer_id=customer_id), code=303)
    db.commit()
    manager = db.get(User, form.manager.data)
    flash(_("The customer now belongs to %(name)s.", name=manager.full_name or manager.email), "success")
    back = request.form.get("back")
    return redirect(
        url_for("workspace.unassigned_vips")
        if back == "unassigned"
        else url_for("customers.show", customer_id=customer_id)
    )
