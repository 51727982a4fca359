"""Log-in, log-out, one's own password and the language switch."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from crm import ratelimits
from crm.auth import bp, sessions
from crm.auth.forms import PASSWORD_REFUSALS, LanguageForm, LoginForm, PasswordChangeForm
from crm.auth.login import current_actor, roles_required
from crm.auth.services import LoginRefused, PasswordRefused, UserError, authenticate, change_password
from crm.db import get_session
from crm.validators import ROLES


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host, never a scheme-relative URL."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.netloc and not parts.scheme and "\\" not in target:
            return target
    return url_for("customers.home")


def _login_refused_by_limit(request_limit):
    """Too many failed log-ins from this address (crm/ratelimits.py): the form, 429."""
    form = LoginForm(formdata=None, next=request.form.get("next", ""))
    form.password.errors = [_("Too many failed log-ins from your address. Please wait a few minutes.")]
    response = current_app.make_response((render_template("auth/login.html", form=form), 429))
    response.headers["Retry-After"] = str(max(1, request_limit.reset_at - int(time.time())))
    return response


@bp.route("/login", methods=["GET", "POST"])
@ratelimits.limiter.limit(
    ratelimits.configured("LOGIN_RATE_LIMIT"),
    key_func=ratelimits.client_address,
    methods=["POST"],
    deduct_when=lambda response: response.status_code != 302,
    on_breach=_login_refused_by_limit,
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("customers.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        db = get_session()
        try:
            user = authenticate(db, form.email.data, form.password.data, request.remote_addr or "-")
        except LoginRefused:
            db.commit()  # keep the failure count
            # A locked account answers as a wrong password does: the answer must not tell
            # that an account exists, nor that guessing at it has locked it.
            form.password.errors.append(_("Wrong e-mail or password."))
        else:
            db.commit()
            sessions.begin()  # a new session under a new id: no fixation
            login_user(user)
            return redirect(_safe_next(form.next.data))
    return render_template("auth/login.html", form=form), 200 if not form.errors else 401


@bp.post("/logout")
def logout():
    # CSRFProtect has checked the token: a third-party page cannot log a user out.
    sessions.end()  # the stored session goes: a copy of the cookie opens nothing now
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required(*ROLES)
def password():
    """Change one's own password: every session of the user ends, this browser gets a new one."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        db = get_session()
        user = current_user._get_current_object()
        try:
            change_password(db, current_actor(), user, form.current.data, form.new.data)
        except PasswordRefused as exc:
            form.new.errors.append(PASSWORD_REFUSALS.get(exc.code, str(exc)))
        except UserError:
            form.current.errors.append(_("The current password is not right."))
        else:
            db.commit()
            sessions.begin()
            login_user(user)
            flash(_("Your password was changed. Your other sessions have been ended."), "success")
            return redirect(url_for("customers.home"))
    return render_template("auth/password.html", form=form), 200 if not form.errors else 422


@bp.post("/language")
def language():
    form = LanguageForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            get_session().commit()
        session["locale"] = form.locale.data
    return redirect(_safe_next(request.form.get("next") or request.referrer and urlsplit(request.referrer).path))
