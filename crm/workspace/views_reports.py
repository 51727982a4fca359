"""Reports (from the newest snapshot), their CSV, the metric definitions, the data export."""
from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from pathlib import Path

from flask import Response, abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import audit
from crm.auth.login import STAFF, current_actor, roles_required
from crm.clock import business_today as today
from crm.db import get_session
from crm.workspace import bp, export, snapshots
from crm.workspace.metrics import DEFINITIONS
from crm.workspace.tables import REPORTS, table
from crm.workspace.views_visits import _names


def _figures():
    db = get_session()
    snapshot, figures = snapshots.figures(db, snapshots.scope_for(current_user))
    names = {str(k): v for k, v in _names(db).items()} | {"0": _("(no account manager)")}
    return snapshot, figures, names


@bp.get("/reports")
@roles_required(*STAFF)
def reports_page():
    snapshot, figures, names = _figures()
    tables = {code: table(figures, code, names) for code in REPORTS} if figures else {}
    return render_template("workspace/reports.html", snapshot=snapshot, figures=figures, tables=tables,
                           reports=REPORTS)


@bp.get("/reports/<report>.csv")
@roles_required(*STAFF)
def report_csv(report: str):
    """One report as CSV (UTF-8 with a BOM, so that spreadsheet programs read the Chinese)."""
    if report not in REPORTS:
        abort(404)
    snapshot, figures, names = _figures()
    if figures is None:
        abort(404)
    columns, rows, total = table(figures, report, names)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    if total is not None:
        writer.writerow(total)
    filename = f"{report}_{snapshot.as_of.isoformat()}.csv"
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


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
    audit.record(db, current_actor(), audit.Change("data.export", "data_export", manifest["version"], None, {
        "generated_at": manifest["generated_at"], "files": {f["name"]: [f["rows"], f["sha256"]] for f in manifest["files"]}}))
    db.commit()
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True,
                     download_name=f"crm-export-{manifest['version']}-{today().isoformat()}.zip")


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
