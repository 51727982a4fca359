"""Review pages: the two queues, a case page with its actions, round-robin assignment."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm import csvout, listing
from crm.auth.login import STAFF, current_actor, roles_required
from crm.db import get_session
from crm.labels import label
from crm.request_args import cursor_arg, int_arg
from crm.review import assign, bp, labels, lists, queries, services
from crm.review.forms import ActionForm, DecideForm, EscalateForm
from crm.review.sla import current_settings
from crm.ui import NavItem

bp.record_once(labels.register)
QUEUE_VIEWERS = {
    "underwriting": ("underwriter", "risk_officer", "admin"),
    "claims": ("claims_reviewer", "risk_officer", "admin"),
}
WORKERS = ("underwriter", "claims_reviewer", "risk_officer", "admin")
NAV = [
    NavItem("review.underwriting", _l("Underwriting queue"), QUEUE_VIEWERS["underwriting"]),
    NavItem("review.claims", _l("Claims queue"), QUEUE_VIEWERS["claims"]),
    NavItem("review.entry", _l("Enter business"), ("underwriter", "admin")),
]
QUEUE_TITLES = labels.QUEUES


@bp.get("/underwriting")
@roles_required(*QUEUE_VIEWERS["underwriting"])
def underwriting():
    return _queue("underwriting")


@bp.get("/claims")
@roles_required(*QUEUE_VIEWERS["claims"])
def claims():
    return _queue("claims")


@bp.get("/claims/vip")
@roles_required(*QUEUE_VIEWERS["claims"])
def vip_claims():
    """The VIP claims channel (贵宾理赔通道): the claims queue's fast-tracked cases alone."""
    return _queue("claims", vip=True)


def _queue_args(vip: bool) -> tuple[queries.QueueFilter, listing.Sort, int]:
    """The queue's filter, sort and (sorted) page from the URL; a sort it does not offer is a 400."""
    state = request.args.get("state", "active")
    try:
        sort = listing.parse_sort(request.args.get("sort_to") or request.args.get("sort"), lists.SORT_COLUMNS)
    except listing.BadSort:
        abort(400)
    f = queries.QueueFilter(
        state=state if state in queries.STATE_FILTERS else "active",
        mine=request.args.get("mine") == "1",
        overdue=request.args.get("overdue") == "1",
        after=cursor_arg("after") if sort.key is None else None,
        vip=vip,
    )
    page = 0 if "sort_to" in request.args else int_arg("page", 0, high=100_000)
    return f, sort, page


def _queue(queue: str, vip: bool = False):
    """A queue in its own order (priority, then age; keyset pages) or sorted by a column
    (offset pages), with its total and the export of what is shown."""
    db = get_session()
    f, sort, page = _queue_args(vip)
    today = current_settings(db).today()
    stmt = lists.queue_query(current_user, queue, f, today, sort)
    more, next_after = False, None
    if sort.key is None:
        rows, next_after = queries.list_cases(db, current_user, queue, f, today)
    else:
        rows, more = listing.page_of(db, stmt, page)
    endpoint = "review.vip_claims" if vip else f"review.{queue}"
    return render_template(
        "review/queue.html",
        queue=queue,
        endpoint=endpoint,
        export_endpoint="review.export_vip_claims" if vip else f"review.export_{queue}",
        title=_("VIP claims channel") if vip else QUEUE_TITLES[queue],
        rows=rows,
        f=f,
        sort=sort,
        page=page,
        more=more,
        total=listing.count(db, stmt),
        next_after=next_after,
        today=today,
        states=queries.STATE_FILTERS,
        counts=queries.queue_counts(db, queue, today, current_user.id, vip=vip),
        form=ActionForm(),
    )


@bp.get("/underwriting/export")
@roles_required(*QUEUE_VIEWERS["underwriting"])
def export_underwriting():
    """The queue as shown (same filter and sort) as a CSV file."""
    return _export("underwriting", vip=False)


@bp.get("/claims/export")
@roles_required(*QUEUE_VIEWERS["claims"])
def export_claims():
    return _export("claims", vip=False)


@bp.get("/claims/vip/export")
@roles_required(*QUEUE_VIEWERS["claims"])
def export_vip_claims():
    return _export("claims", vip=True)


def _export(queue: str, vip: bool):
    db = get_session()
    f, sort, _page = _queue_args(vip)
    stmt = lists.queue_query(current_user, queue, f, current_settings(db).today(), sort)
    header = [_("Case"), _("Reason"), _("Customer"), _("Reference")]
    header += [_("Claimed amount")] if queue == "claims" else []
    header += [_("Priority"), _("VIP fast track"), _("Due"), _("State"), _("Assignee")]

    def row(r):
        case, name, ref, email, full_name, amount = r
        cells = [case.id, str(labels.REASONS.get(case.reason, case.reason)), name, ref]
        cells += [csvout.two_decimals(amount)] if queue == "claims" else []
        return cells + [
            case.priority,
            str(label("1" if case.fast_track else "0", "flag")),
            case.due_on,
            str(labels.STATES.get(case.state, case.state)),
            listing.person_name(full_name, email) if email else "",
        ]

    rows = listing.export_rows(db, stmt, row)
    return csvout.csv_response(csvout.to_text(header, rows), f"{'vip-claims' if vip else queue}-queue.csv")


@bp.get("/cases/<int:case_id>")
@roles_required(*STAFF)
def case(case_id: int):
    return _case_page(case_id)


def _case_page(case_id: int, decide_form=None, escalate_form=None, status: int = 200):
    db = get_session()
    try:
        page = queries.case_page(db, current_user, case_id)
    except services.CaseNotFound:
        abort(404)
    c = page["case"]
    return render_template(
        "review/case.html",
        **page,
        today=current_settings(db).today(),
        form=ActionForm(),
        decide_form=decide_form or DecideForm(),
        escalate_form=escalate_form or EscalateForm(),
        conflict=services.conflict(db, c, current_user.id),
        title=QUEUE_TITLES[c.queue],
    ), status


def _refused(case_id: int, exc: services.ReviewError, **forms):
    status = {services.AlreadyTaken: 409, services.ReasonRequired: 422}.get(type(exc), 403)
    flash(str(exc), "error")
    return _case_page(case_id, status=status, **forms)


def _done(case_id: int, message: str):
    get_session().commit()
    flash(message, "success")
    return redirect(url_for("review.case", case_id=case_id))


def _visible(case_id: int) -> None:
    """Nothing is done to a case the user may not see (an account manager's other customers)."""
    try:
        queries.case_page(get_session(), current_user, case_id)
    except services.CaseNotFound:
        abort(404)


@bp.post("/cases/<int:case_id>/claim")
@roles_required(*WORKERS)
def claim(case_id: int):
    _visible(case_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.claim_case(get_session(), case_id, current_user, current_actor())
    except services.ReviewError as exc:
        return _refused(case_id, exc)
    return _done(case_id, _("You hold this case now."))


@bp.post("/cases/<int:case_id>/decide")
@roles_required(*WORKERS)
def decide(case_id: int):
    _visible(case_id)
    form = DecideForm()
    if not form.validate_on_submit():
        return _case_page(case_id, decide_form=form, status=422)
    try:
        services.decide(
            get_session(),
            case_id,
            current_user,
            form.decision.data,
            form.reason.data,
            current_actor(),
            conditions=form.conditions(),
        )
    except services.ReviewError as exc:
        return _refused(case_id, exc, decide_form=form)
    return _done(case_id, _("Decision recorded."))


@bp.post("/cases/<int:case_id>/escalate")
@roles_required(*WORKERS)
def escalate(case_id: int):
    _visible(case_id)
    form = EscalateForm()
    if not form.validate_on_submit():
        return _case_page(case_id, escalate_form=form, status=422)
    try:
        services.escalate(get_session(), case_id, current_user, form.reason.data, current_actor())
    except services.ReviewError as exc:
        return _refused(case_id, exc, escalate_form=form)
    return _done(case_id, _("Escalated to a risk officer."))


@bp.post("/cases/<int:case_id>/close")
@roles_required(*WORKERS)
def close(case_id: int):
    _visible(case_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.close(get_session(), case_id, current_user, current_actor())
    except services.ReviewError as exc:
        return _refused(case_id, exc)
    return _done(case_id, _("Case closed."))


@bp.post("/cases/<int:case_id>/assign")
@roles_required("risk_officer", "admin")
def assign_one(case_id: int):
    _visible(case_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        assign.assign_round_robin(get_session(), case_id, current_actor())
    except services.ReviewError as exc:
        return _refused(case_id, exc)
    return _done(case_id, _("Assigned round-robin."))


@bp.post("/<any(underwriting, claims):queue>/assign-all")
@roles_required("risk_officer", "admin")
def assign_all(queue: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_session()
    n = assign.assign_open_cases(db, queue, current_actor())
    db.commit()
    flash(_("%(n)d open cases assigned round-robin.", n=n), "success")
    return redirect(url_for(f"review.{queue}"))
