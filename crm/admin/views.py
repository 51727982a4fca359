"""Admin pages: CSV upload (queued as an import job) and the job's page."""

from __future__ import annotations

import json

from flask import abort, current_app, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField

from crm import initial_load as initial
from crm import labels
from crm.admin import bp
from crm.auth.login import current_actor, roles_required
from crm.config import UPLOAD_DIR
from crm.csvout import csv_response, to_text
from crm.db import get_session
from crm.forms import Form, form_text
from crm.import_rows import KINDS
from crm.importer import ENCODINGS
from crm.imports import services as imports
from crm.imports.models import ImportJob
from crm.limits import MIB, set_body_limit
from crm.ui import NavItem

NAV = [NavItem("admin.import_upload", _l("Import"), ("admin",))]
PROBLEMS_SHOWN = 500


@bp.record_once
def _upload_limit(state) -> None:
    # The file and the form's few fields around it; every other admin form keeps 1 MiB.
    set_body_limit(state.app, "admin.import_upload", state.app.config["CRM_SETTINGS"].max_upload_mb * MIB + MIB)


class ImportForm(Form):
    kind = SelectField(_l("Kind"), choices=list(labels.KINDS.items()))
    file = FileField(_l("CSV file"), validators=[FileRequired()])
    encoding = SelectField(
        _l("Encoding"), choices=[(code, labels.ENCODINGS[code]) for code in ENCODINGS], default="utf-8"
    )
    dry_run = BooleanField(_l("Validate only (dry run)"))
    initial_load = BooleanField(_l("Initial load of historical data"))


@bp.route("/import", methods=["GET", "POST"])
@roles_required("admin")
def import_upload():
    """Store the upload and queue it for the scheduler process (the web never imports)."""
    form = ImportForm()
    db = get_session()
    if form.validate_on_submit():
        # Storing the file takes no lock: end the request's transaction (on SQLite it holds the
        # write lock since the user was loaded) before copying up to the upload limit.
        db.commit()
        max_bytes = current_app.config["CRM_SETTINGS"].max_upload_mb * MIB
        try:
            upload = imports.store_upload(form.file.data.stream, UPLOAD_DIR, max_bytes)
        except imports.UploadRefused:
            flash(_("The file is larger than %(n)s MiB.", n=max_bytes // MIB), "error")
            return _upload_page(db, form), 413
        try:
            job = imports.queue_import(
                db,
                current_actor(),
                form.kind.data,
                form.file.data.filename,
                upload,
                dry_run=form.dry_run.data,
                initial_load=form.initial_load.data,
                user_id=current_user.id,
                encoding=form.encoding.data,
            )
            db.commit()
        except BaseException as exc:
            db.rollback()
            imports.remove_stored(UPLOAD_DIR, upload)
            if not isinstance(exc, imports.UploadRefused):
                raise
            flash(_("Too many imports are waiting; try again once they have run."), "warning")
            return _upload_page(db, form), 429
        return redirect(url_for("admin.import_job", job_id=job.id))
    return _upload_page(db, form)


def _upload_page(db, form):
    return render_template(
        "admin/import.html",
        form=form,
        jobs=imports.recent(db),
        initial_open=initial.is_open(db),
        initial_requests=initial.requests(db),
        kinds=KINDS,
    )


@bp.get("/import/template/<kind>.csv")
@roles_required("admin")
def import_template(kind: str):
    """An empty file of one kind: the header row with every column, to fill in a spreadsheet."""
    if kind not in KINDS:
        abort(404)
    return csv_response(to_text(KINDS[kind].columns, []), f"{kind}-template.csv")


@bp.post("/initial-load/<int:approval_id>/approve")
@roles_required("admin")
def approve_initial_load(approval_id: int):
    """A second admin approves one file for an initial-load import after the initial load closed."""
    db = get_session()
    try:
        initial.approve(db, current_actor(), approval_id)
    except initial.ApprovalError as exc:
        flash(str(exc), "error")
    else:
        db.commit()
        flash(_("Approved: that file can now be imported once as an initial load."), "success")
    return redirect(url_for("admin.import_upload"), code=303)


def _job_or_404(job_id: int) -> ImportJob:
    job = get_session().get(ImportJob, job_id) if job_id < 2**31 else None
    if job is None:
        abort(404)
    return job


@bp.get("/imports/<int:job_id>")
@roles_required("admin")
def import_job(job_id: int):
    job = _job_or_404(job_id)
    problems = imports.problems_of(job)
    return render_template(
        "admin/import_job.html",
        job=job,
        problems=problems[:PROBLEMS_SHOWN],
        more=job.more_problems + max(0, len(problems) - PROBLEMS_SHOWN),
        changes=_changes(job),
    )


def _changes(job: ImportJob) -> str:
    """Which fields a re-import changed, in the reader's language ('updated 12 rows: city 9')."""
    fields = json.loads(job.changed_fields or "{}")
    if job.state != "completed" or job.dry_run:
        return ""
    if not job.updated:
        return _("no stored row changed")
    return ngettext(
        "updated %(num)s row: %(fields)s",
        "updated %(num)s rows: %(fields)s",
        job.updated,
        fields=", ".join(f"{name} {n}" for name, n in sorted(fields.items())),
    )


@bp.get("/imports/<int:job_id>.json")
@roles_required("admin")
def import_job_status(job_id: int):
    job = _job_or_404(job_id)
    return jsonify(id=job.id, state=job.state, phase=job.phase, progress=job.progress)


@bp.post("/records/<kind>/<int:record_id>/void")
@roles_required("admin", "underwriter", "claims_reviewer")
def void(kind: str, record_id: int):
    """Void a policy or claim with a reason (nothing is ever deleted)."""
    from flask import abort, flash, redirect, url_for
    from flask_babel import gettext as _

    from crm.clock import business_today
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
            flash(
                _("The policy is in force: your request to void it is recorded, and a second person must confirm it."),
                "warning",
            )
    return redirect(url_for("customers.show", customer_id=record.customer_id))
