"""Log-in, log-out and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from crm.auth import bp, sessions
from crm.auth.forms import LanguageForm, LoginForm
from crm.auth.services import LoginRefused, authenticate
from crm.db import get_session



def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host, never a scheme-relative URL."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.netloc and not parts.scheme and "\\" not in target:
            return target
    return url_for("customers.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("customers.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        db = get_session()
        try:
            user = authenticate(db, form.email.data, form.password.data, request.remote_addr or "-")
        except LoginRefused as refused:
            db.commit()  # keep the failure count
            form.password.errors.append(
                _("Too many failed attempts. Try again in a few minutes.") if refused.locked
                else _("Wrong e-mail or password.")
            )
        else:
            db.commit()
            session.clear()  # a new session at log-in: no fixation
            login_user(user)
            session.permanent = True
            sessions.start()
            return redirect(_safe_next(form.next.data))
    return render_template("auth/login.html", form=form), 200 if not form.errors else 401


@bp.post("/logout")
def logout():
    # CSRFProtect has checked the token: a third-party page cannot log a user out.
    logout_user()
    session.clear()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language():
    form = LanguageForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            get_session().commit()
        session["locale"] = form.locale.data
    return redirect(_safe_next(request.form.get("next") or request.referrer and urlsplit(request.referrer).path))
