"""Session lifetime: an idle timeout and an absolute one, checked on every page request.

The session itself lives on the server (crm/auth/session_store.py); ``begin`` and ``end``
give it a new id, so that a cookie copied before a log-in or a log-out opens nothing.
"""

from __future__ import annotations

import re
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


# What an admin needs to tell sessions apart: the browser (brand and major version) and the
# operating system, read from the user agent's usual tokens, in this order (Edge and Opera
# also say Chrome, Chrome also says Safari, Android also says Linux).
_BROWSERS = (
    ("Edg", "Edge"),
    ("OPR", "Opera"),
    ("MicroMessenger", "WeChat"),
    ("HeadlessChrome", "Chrome"),
    ("CriOS", "Chrome"),
    ("Chrome", "Chrome"),
    ("FxiOS", "Firefox"),
    ("Firefox", "Firefox"),
    ("Version", "Safari"),  # Safari's own version is in Version/…, not in Safari/…
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_user_agent(user_agent: str | None) -> str:
    """A session's browser as an admin reads it, e.g. "Chrome 131 · Windows" (the full user
    agent stays in the session's record)."""
    user_agent = user_agent or ""
    browser = None
    for token, name in _BROWSERS:
        match = re.search(rf"\b{token}/(\d+)", user_agent)
        if match:
            browser = "{} {}".format(_("WeChat") if name == "WeChat" else name, match[1])
            if token == "HeadlessChrome":
                browser = _("%(browser)s (headless)", browser=browser)
            break
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser is None and system is None:
        return _("unknown browser") if user_agent else "—"
    return " · ".join(part for part in (browser or _("unknown browser"), system) if part)
