"""Session lifetime: an idle timeout and an absolute one, checked on every page request.

The session itself lives on the server (crm/auth/session_store.py); ``begin`` and ``end``
give it a new id, so that a cookie copied before a log-in or a log-out opens nothing.
"""

from __future__ import annotations

import time

from flask import flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 12 * 60 * 60


def begin(now: float | None = None) -> None:
    """Called at log-in, before login_user: a new session under a new id (no fixation)."""
    now = now or time.time()
    session.clear()
    session.renew()
    session.permanent = True
    session["login_at"] = session["seen_at"] = int(now)


def end() -> None:
    """Log-out, or a session that expired: its stored row goes, the browser gets a new id."""
    logout_user()
    session.clear()
    session.renew()


def check():
    """before_request: end a session idle too long or open too long; refresh 'seen' otherwise.
    Raises the database's error if the session could not be read (the 503 page answers)."""
    if getattr(session, "unavailable", None) is not None:
        raise session.unavailable
    if request.path.startswith(("/api/", "/static/")) or not current_user.is_authenticated:
        return None
    now = int(time.time())
    login_at, seen_at = session.get("login_at", 0), session.get("seen_at", 0)
    if now - seen_at > IDLE_SECONDS or now - login_at > ABSOLUTE_SECONDS:
        end()
        flash(_("Your session expired. Please log in again."), "warning")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if now - seen_at > 60:  # at most once a minute: the stored session need not be written on every click
        session["seen_at"] = now
    return None
