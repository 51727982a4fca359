"""The review rules page: admins save a new version (routes on the review blueprint)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from crm.auth.login import current_actor, roles_required
from crm.db import get_session
from crm.review import bp
from crm.review.forms import SettingsForm
from crm.review.sla import SettingsError, current_settings, save_settings


@bp.route("/settings", methods=["GET", "POST"])
@roles_required("admin")
def settings():
    db = get_session()
    current = current_settings(db)
    form = SettingsForm()
    if not form.is_submitted():
        form.process(data={**current.to_dict(), "holidays": "\n".join(current.to_dict()["holidays"])})
    elif form.validate():
        values = {
            name: form[name].data
            for name in (
                "sla_underwriting_days",
                "sla_claims_days",
                "sla_vip_claims_days",
                "large_claim_amount",
                "late_entry_days",
                "auto_assign",
            )
        }
        values["holidays"] = [line.strip() for line in (form.holidays.data or "").splitlines() if line.strip()]
        try:
            saved = save_settings(db, current_actor(), values, form.note.data)
        except SettingsError as exc:
            form.note.errors = [*form.note.errors, str(exc)]
        else:
            db.commit()
            flash(_("Review settings %(version)s saved.", version=saved.version), "success")
            return redirect(url_for("review.settings"))
    status = 422 if form.is_submitted() else 200
    return render_template("review/settings.html", form=form, current=current), status
