"""Admin pages: CSV upload."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField

from crm.admin import bp
from crm.auth.login import current_actor, roles_required
from crm.ui import NavItem
from crm.db import get_db, get_session
from crm.importer import ImportFailed, import_csv

NAV = [NavItem("admin.import_upload", _l("Import"), ("admin",))]


class ImportForm(FlaskForm):
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
    return render_template("admin/import.html", form=form, summary=summary, problems=problems, more=more), status


@bp.post("/records/<kind>/<int:record_id>/void")
@roles_required("admin", "underwriter", "claims_reviewer")
def void(kind: str, record_id: int):
    """Void a policy or claim with a reason (nothing is ever deleted)."""
    from flask import abort, flash, redirect, request, url_for
    from flask_babel import gettext as _

    from crm.customers.services import NotVisible, get_customer
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
        void_record(db, current_actor(), kind, record_id, request.form.get("reason", ""))
    except NotVisible:
        abort(404)
    except RecordError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
        flash(_("Voided. The record stays, marked void, and no longer counts."), "success")
    return redirect(url_for("customers.show", customer_id=record.customer_id))
