"""Flask-Login wiring and the role check used by every view."""

from __future__ import annotations

import functools

from flask import abort, g
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_required

from crm.audit import Actor
from crm.auth import passwords
from crm.db import get_session
from crm.models import User

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.session_protection = "strong"


@login_manager.user_loader
def _load_user(user_id: str):
    user = get_session().get(User, int(user_id))
    return user if user is not None and user.active else None  # deactivated: logged out at once


def init_login(app) -> None:
    login_manager.init_app(app)
    passwords.use_method(app.config["CRM_SETTINGS"].password_hash)


def roles_required(*roles: str):
    """Log-in plus one of ``roles``; everyone else gets 403."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorator


STAFF = ("admin", "account_manager", "underwriter", "claims_reviewer", "risk_officer")


def current_actor() -> Actor:
    return Actor.for_user(current_user, g.get("request_id"))
