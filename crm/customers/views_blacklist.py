"""The black list on the customer page: request, confirm or reject, and the same to take off."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.auth.login import current_actor, roles_required
from crm.customers import blacklist, bp, services
from crm.db import get_session
from crm.forms import form_text

ROLES = tuple(dict.fromkeys(blacklist.REQUEST_ROLES + blacklist.CONFIRM_ROLES))
ACTIONS = {
    "confirm": lambda db, actor, entry_id, reason: blacklist.decide_entry(
        db, actor, current_user, entry_id, True, reason
    ),
    "reject": lambda db, actor, entry_id, reason: blacklist.decide_entry(
        db, actor, current_user, entry_id, False, reason
    ),
    "remove": lambda db, actor, entry_id, reason: blacklist.request_removal(db, actor, current_user, entry_id, reason),
    "confirm-removal": lambda db, actor, entry_id, reason: blacklist.decide_removal(
        db, actor, current_user, entry_id, True, reason
    ),
    "reject-removal": lambda db, actor, entry_id, reason: blacklist.decide_removal(
        db, actor, current_user, entry_id, False, reason
    ),
}

# What each step did, said after it (the request's own message is on the request's route).
DONE = {
    "confirm": _l("Confirmed: the customer is on the black list."),
    "reject": _l("Rejected: the customer stays off the black list."),
    "remove": _l("Removal requested: a second person confirms it before the customer comes off the black list."),
    "confirm-removal": _l("Confirmed: the customer is off the black list."),
    "reject-removal": _l("Removal rejected: the customer stays on the black list."),
}


def _visible(db, customer_id: int) -> None:
    try:
        services.get_customer(db, current_user, customer_id)
    except services.NotVisible:
        abort(404)


@bp.post("/customers/<int:customer_id>/blacklist")
@roles_required(*blacklist.REQUEST_ROLES)
def request_blacklist(customer_id: int):
    """Ask for a customer on the grey list to go on the black list (a second person confirms)."""
    db = get_session()
    _visible(db, customer_id)
    try:
        blacklist.request_entry(db, current_actor(), current_user, customer_id, form_text("reason"))
    except blacklist.BlacklistError as exc:
        flash(_("Nothing was changed: %(why)s", why=str(exc)), "error")
    else:
        db.commit()
        flash(_("Requested: the black list takes effect once a second person confirms."), "success")
    return redirect(url_for("customers.show", customer_id=customer_id))


@bp.post("/customers/<int:customer_id>/blacklist/<int:entry_id>/<action>")
@roles_required(*ROLES)
def blacklist_step(customer_id: int, entry_id: int, action: str):
    """Confirm or reject a request, or ask for (confirm, reject) a removal."""
    if action not in ACTIONS:
        abort(404)
    db = get_session()
    _visible(db, customer_id)
    entry = db.get(blacklist.BlacklistEntry, entry_id)
    if entry is None or entry.customer_id != customer_id:
        abort(404)
    try:
        ACTIONS[action](db, current_actor(), entry_id, form_text("reason"))
    except blacklist.BlacklistError as exc:
        flash(_("Nothing was changed: %(why)s", why=str(exc)), "error")
    else:
        db.commit()
        flash(str(DONE[action]), "success")
    return redirect(url_for("customers.show", customer_id=customer_id))
