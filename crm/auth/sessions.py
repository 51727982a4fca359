"""Session lifetime: an idle timeout and an absolute one, checked on every page request."""
from __future__ import annotations

import time

from flask import flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 12 * 60 * 60


def start(now: float | None = None) -> None:
    """Called at log-in (after the session was renewed)."""
    now = now or time.time()
    session["login_at"] = session["seen_at"] = int(now)


def check():
    """before_request: end a session idle too long or open too long; refresh 'seen' otherwise."""
    if request.path.startswith(("/api/", "/static/")) or not current_user.is_authenticated:
        return None
    now = int(time.time())
    login_at, seen_at = session.get("login_at", 0), session.get("seen_at", 0)
    if now - seen_at > IDLE_SECONDS or now - login_at > ABSOLUTE_SECONDS:
        logout_user()
        session.clear()
        flash(_("Your session expired. Please log in again."), "warning")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if now - seen_at > 60:  # at most once a minute: the cookie need not change on every click
        session["seen_at"] = now
    return None
