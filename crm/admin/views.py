"""Admin pages: CSV upload."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField

from crm import initial_load as initial
from crm.auth.login import current_actor, roles_required
from crm.forms import Form, form_text
from crm.ui import NavItem
from crm.db import get_db, get_session
from crm.importer import ImportFailed, import_csv

bp = Blueprint("admin", __name__, url_prefix="/admin")
NAV = [NavItem("admin.import_upload", _l("Import"), ("admin",))]


class ImportForm(Form):
    kind = SelectField(_l("Kind"), choices=[("customers", _l("Customers")), ("policies", _l("Policies")),
                                            ("claims", _l("Claims"))])
    file = FileField(_l("CSV file"), validators=[FileRequired()])
    dry_run = BooleanField(_l("Validate only (dry run)"))
    initial_load = BooleanField(_l("Initial load of historical data"))


@bp.route("/import", methods=["GET", "POST"])
@roles_required("admin")
def import_upload():
    form = ImportForm()
    summary, problems, more = None, [], 0
    if form.validate_on_submit():
        # The import runs in transactions of its own: end the request's (it holds SQLite's
        # write lock since the user was loaded) so that they do not wait on it.
        get_session().commit()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.csv"
            form.file.data.save(path)
            try:
                summary = import_csv(get_db(), form.kind.data, path, current_actor(),
                                     dry_run=form.dry_run.data, initial_load=form.initial_load.data,
                                     user_id=current_user.id)
            except ImportFailed as exc:
                problems, more = exc.problems[:500], exc.more + max(0, len(exc.problems) - 500)
    status = 422 if problems else 200
    db = get_session()
    return render_template("admin/import.html", form=form, summary=summary, problems=problems, more=more,
                           initial_open=initial.is_open(db), initial_requests=initial.requests(db)), status


@bp.post("/initial-load/<int:approval_id>/approve")
@roles_required("admin")
def approve_initial_load(approval_id: int):
    """A second admin approves one file for an initial-load import after the initial load closed."""
    from flask import flash, redirect, url_for
    from flask_babel import gettext as _

    db = get_session()
    try:
        initial.approve(db, current_actor(), approval_id)
    except initial.ApprovalError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
        flash(_("Approved: that file can now be imported once as an initial load."), "success")
    return redirect(url_for("admin.import_upload"), code=303)


@bp.post("/records/<kind>/<int:record_id>/void")
@roles_required("admin", "underwriter", "claims_reviewer")
def void(kind: str, record_id: int):
    """Void a policy or claim with a reason (nothing is ever deleted)."""
    from flask import abort, flash, redirect, url_for
    from flask_babel import gettext as _

    from crm.customers.services import NotVisible, get_customer
    from crm.benefits.services import business_today
    from crm.records import KINDS, VOID_ROLES, RecordError, void_record

    if kind not in KINDS:
        abort(404)
    if current_user.role not in VOID_ROLES[kind]:
        abort(403)
    db = get_session()
    record = db.get(KINDS[kind], record_id)
    if record is None:
        abort(404)
    try:
        get_customer(db, current_user, record.customer_id)
        _record, voided = void_record(db, current_actor(), kind, record_id, form_text("reason") or "", business_today())
    except NotVisible:
        abort(404)
    except RecordError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
        if voided:
            flash(_("Voided. The record stays, marked void, and no longer counts."), "success")
        else:
            flash(_("The policy is in force: your request to void it is recorded, and a second person must "
                    "confirm it."), "warning")
    return redirect(url_for("customers.show", customer_id=record.customer_id))
