"""Reports (from the newest snapshot), their CSV, the metric definitions, the data export."""

from __future__ import annotations

import io
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import audit, csvout
from crm.auth.login import STAFF, current_actor, roles_required
from crm.clock import business_today as today
from crm.db import get_session
from crm.workspace import bp, export, snapshots, warnings
from crm.workspace.forms import WarningThresholdsForm
from crm.workspace.metrics import DEFINITIONS
from crm.workspace.tables import BY_MANAGER, REPORTS, table
from crm.workspace.views_visits import _names


def _figures():
    db = get_session()
    snapshot, figures = snapshots.figures(db, snapshots.scope_for(current_user))
    names = {str(k): v for k, v in _names(db).items()} | {"0": _("(no account manager)")}
    return snapshot, figures, names


def _by_manager() -> bool:
    """The contract reports by account manager: only when asked (?by=manager), never for a manager."""
    return request.args.get("by") == "manager" and current_user.role != "account_manager"


@bp.get("/reports")
@roles_required(*STAFF)
def reports_page():
    snapshot, figures, names = _figures()
    by_manager = _by_manager()
    tables = (
        {code: table(figures, code, names, by_manager and code in BY_MANAGER) for code in REPORTS} if figures else {}
    )
    return render_template(
        "workspace/reports.html",
        snapshot=snapshot,
        figures=figures,
        tables=tables,
        reports=REPORTS,
        by_manager=by_manager,
        splittable=BY_MANAGER,
    )


# The reports' money columns: written with 2 decimals (the figures hold floats rounded to cents).
MONEY_COLUMNS = {
    "earned",
    "incurred",
    "estimated_amount",
    "earned_premium",
    "cost",
    "new_premium",
    "annual_premium_in_force",
    "earned_premium_ytd",
    "unearned_premium",
}


@bp.get("/reports/<report>.csv")
@roles_required(*STAFF)
def report_csv(report: str):
    """One report as CSV (UTF-8 with a BOM, so that spreadsheet programs read the Chinese)."""
    if report not in REPORTS:
        abort(404)
    snapshot, figures, names = _figures()
    if figures is None:
        abort(404)
    columns, rows, total = table(figures, report, names, _by_manager() and report in BY_MANAGER)
    money = [i for i, column in enumerate(columns) if column in MONEY_COLUMNS]
    ratios = [i for i, column in enumerate(columns) if column == "loss_ratio"]  # 4 decimals, as the reports say
    lines = [*rows, *([total] if total is not None else [])]
    lines = [
        [
            csvout.two_decimals(v)
            if i in money and isinstance(v, (int, float))
            else csvout.four_decimals(v)
            if i in ratios and isinstance(v, (int, float))
            else v
            for i, v in enumerate(line)
        ]
        for line in lines
    ]
    return csvout.csv_response(csvout.to_text(columns, lines), f"{report}_{snapshot.as_of.isoformat()}.csv")


@bp.get("/reports/definitions")
@roles_required(*STAFF)
def definitions():
    return render_template("workspace/definitions.html", definitions=DEFINITIONS)


@bp.get("/workspace/export")
@roles_required("admin")
def export_page():
    return render_template("workspace/export.html", files=export.FILES, version=export.VERSION)


@bp.post("/workspace/export")
@roles_required("admin")
def export_download():
    """Build the export and send it as one zip; who took it, and its manifest, go to the audit trail."""
    db = get_session()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = export.export_data(db.connection(), Path(tmp) / "export")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted((Path(tmp) / "export").iterdir()):
                archive.write(path, path.name)
    audit.record(
        db,
        current_actor(),
        audit.Change(
            "data.export",
            "data_export",
            manifest["version"],
            None,
            {
                "generated_at": manifest["generated_at"],
                "files": {f["name"]: [f["rows"], f["sha256"]] for f in manifest["files"]},
            },
        ),
    )
    db.commit()
    buffer.seek(0)
    response = send_file(
        buffer,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"crm-export-{manifest['version']}-{today().isoformat()}.zip",
    )
    response.headers["Cache-Control"] = "no-store"  # the export's files, like any CSV download, are not cached
    return response


@bp.post("/workspace/snapshot")
@roles_required("admin")
def take_snapshot():
    """Refresh the report figures now (the scheduler does it daily)."""
    from crm.db import utcnow

    db = get_session()
    key = f"manual:{utcnow().isoformat(timespec='seconds')}"
    try:
        snapshots.take_in(db, current_actor(), key, today())
    except snapshots.SnapshotExists:
        flash(_("The figures were refreshed a moment ago."), "info")
    else:
        db.commit()
        flash(_("The report figures were refreshed."), "success")
    return redirect(url_for("workspace.reports_page"))


def _as_form_value(code: str, value: Decimal):
    return value * 100 if warnings.BY_CODE[code].unit == "share" else int(value)


def _thresholds_page(db, form, status=200):
    version, values = warnings.current(db)
    if not form.is_submitted():
        for code, value in values.items():
            getattr(form, code).data = _as_form_value(code, value)
    return render_template(
        "workspace/warnings.html",
        form=form,
        version=version,
        history=warnings.history(db),
        indicators=warnings.INDICATORS,
    ), status


@bp.get("/workspace/warnings")
@roles_required("admin")
def warnings_page():
    return _thresholds_page(get_session(), WarningThresholdsForm())


@bp.post("/workspace/warnings")
@roles_required("admin")
def save_warnings():
    """A new version of the early-warning thresholds; the next snapshot evaluates it."""
    db = get_session()
    form = WarningThresholdsForm()
    if not form.validate_on_submit():
        return _thresholds_page(db, form, 422)
    values = {
        i.code: (
            Decimal(getattr(form, i.code).data) / 100 if i.unit == "share" else Decimal(getattr(form, i.code).data or 0)
        )
        for i in warnings.INDICATORS
    }
    try:
        row = warnings.save(db, current_actor(), values)
    except warnings.ThresholdError as exc:
        flash(str(exc), "error")
        return _thresholds_page(db, form, 422)
    db.commit()
    flash(_("Thresholds saved as version %(id)s; the next figures are checked against them.", id=row.id), "success")
    return redirect(url_for("workspace.warnings_page"), code=303)
