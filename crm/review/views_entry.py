"""Pages to enter a policy or a claim by hand (routes on the review blueprint)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.auth.login import current_actor, roles_required
from crm.clock import business_today
from crm.db import get_session
from crm.review import bp
from crm.review.entry import EntryInvalid, enter_claim, enter_policy
from crm.review.forms import ClaimEntryForm, PolicyEntryForm

ENTERERS = ("underwriter", "admin")


def _page(policy_form=None, claim_form=None, status: int = 200):
    return render_template(
        "review/entry.html",
        policy_form=policy_form or PolicyEntryForm(prefix="p"),
        claim_form=claim_form or ClaimEntryForm(prefix="c"),
    ), status


@bp.get("/entry")
@roles_required(*ENTERERS)
def entry():
    return _page()


def _submit(form, enter, kind: str):
    if not form.validate_on_submit():
        return None
    db = get_session()
    try:
        entered = enter(db, current_user, current_actor(), form.row(), business_today())
    except EntryInvalid as exc:
        for name, message in exc.problems.items():
            getattr(form, name).errors = [*getattr(form, name).errors, message]
        return None
    db.commit()
    if entered.case_ids:
        flash(_("%(kind)s entered; %(n)d review cases opened.", kind=kind, n=len(entered.case_ids)), "warning")
    else:
        flash(_("%(kind)s entered.", kind=kind), "success")
    return redirect(url_for("customers.show", customer_id=entered.record.customer_id))


@bp.post("/entry/policy")
@roles_required(*ENTERERS)
def enter_policy_view():
    form = PolicyEntryForm(prefix="p")
    return _submit(form, enter_policy, _("Policy")) or _page(policy_form=form, status=422)


@bp.post("/entry/claim")
@roles_required(*ENTERERS)
def enter_claim_view():
    form = ClaimEntryForm(prefix="c")
    return _submit(form, enter_claim, _("Claim")) or _page(claim_form=form, status=422)
