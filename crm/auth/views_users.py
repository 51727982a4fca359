"""Admin pages for users: the list, a new user, (de)activation, and a user's active sessions
(created, last seen, address, browser), each of which the admin can end. Every change is
audited; every button is a POST, whose CSRF token CSRFProtect checks (crm/app.py)."""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from crm.auth import sessions
from crm.auth import users_bp as bp
from crm.auth.forms import PASSWORD_REFUSALS, UserCreateForm, UserNameForm
from crm.auth.login import current_actor, roles_required
from crm.auth.services import (
    PasswordRefused,
    UserError,
    active_sessions,
    create_user,
    end_session_by_admin,
    set_active,
    set_full_name,
)
from crm.db import get_session, utcnow
from crm.models import User, UserSession
from crm.ui import NavItem

NAV = [NavItem("users.index", _l("Users"))]

_IDLE = dt.timedelta(seconds=sessions.IDLE_SECONDS)
_ABSOLUTE = dt.timedelta(seconds=sessions.ABSOLUTE_SECONDS)


@bp.get("")
@roles_required("admin")
def index():
    db = get_session()
    now = utcnow()
    counts = dict(
        db.execute(
            select(UserSession.user_id, func.count())
            .where(
                UserSession.user_id.is_not(None),
                UserSession.last_seen_at > now - _IDLE - dt.timedelta(minutes=1),
                UserSession.created_at > now - _ABSOLUTE,
            )
            .group_by(UserSession.user_id)
        ).all()
    )
    users = db.scalars(select(User).order_by(User.email)).all()
    return render_template("auth/users.html", users=users, counts=counts)


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def new():
    form = UserCreateForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            user = create_user(
                db, current_actor(), form.email.data, form.role.data, form.password.data, form.full_name.data or ""
            )
        except PasswordRefused as exc:
            form.password.errors.append(PASSWORD_REFUSALS.get(exc.code, str(exc)))
        except UserError as exc:
            form.email.errors.append(str(exc))
        else:
            db.commit()
            flash(_("User %(email)s created.", email=user.email), "success")
            return redirect(url_for("users.index"))
    return render_template("auth/user_new.html", form=form), 200 if not form.errors else 422


@bp.post("/<int:user_id>/active/<int:active>")
@roles_required("admin")
def activate(user_id: int, active: int):
    """Activate (1) or deactivate (0) a user; deactivating ends their sessions at once."""
    if not active and user_id == current_user.id:
        flash(_("You cannot deactivate your own account."), "error")
        return redirect(url_for("users.index"))
    db = get_session()
    try:
        user = set_active(db, current_actor(), user_id, bool(active))
    except UserError:
        abort(404)
    else:
        db.commit()
        flash(
            _("%(email)s can log in again.", email=user.email)
            if active
            else _("%(email)s is deactivated; their sessions have ended.", email=user.email),
            "success",
        )
    return redirect(url_for("users.index"))


@bp.post("/<int:user_id>/name")
@roles_required("admin")
def rename(user_id: int):
    """Set the name a user is shown by on every page (run starters, assignees, audit actors)."""
    form = UserNameForm()
    if not form.validate_on_submit():
        flash(_("The name was not changed: at most 100 characters."), "error")
        return redirect(url_for("users.index"))
    db = get_session()
    try:
        user = set_full_name(db, current_actor(), user_id, form.full_name.data or "")
    except UserError:
        abort(404)
    db.commit()
    flash(_("%(email)s is now shown as %(name)s.", email=user.email, name=user.full_name or "—"), "success")
    return redirect(url_for("users.index"))


def _user(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/<int:user_id>/sessions")
@roles_required("admin")
def user_sessions(user_id: int):
    user = _user(user_id)
    rows = active_sessions(get_session(), user.id, _IDLE, _ABSOLUTE)
    return render_template(
        "auth/user_sessions.html", user=user, rows=rows, describe_user_agent=sessions.describe_user_agent
    )


@bp.post("/<int:user_id>/sessions/end")
@bp.post("/<int:user_id>/sessions/<int:session_id>/end")
@roles_required("admin")
def end(user_id: int, session_id: int | None = None):
    """End one session of the user, or all of them: their cookies open nothing any more."""
    user = _user(user_id)
    db = get_session()
    ended = end_session_by_admin(db, current_actor(), user.id, session_id)
    db.commit()
    flash(_("Sessions ended: %(n)s.", n=ended), "success")
    return redirect(url_for("users.user_sessions", user_id=user.id))
