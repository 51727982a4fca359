"""The application factory: reads like a table of contents."""
from __future__ import annotations

import datetime as dt
import uuid

from flask import Flask, g
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from crm import db as dblayer
from crm.config import INSTANCE_DIR, PROJECT_ROOT, load_settings

csrf = CSRFProtect()


def create_app(test_config: dict | None = None) -> Flask:
    """Create the app; ``test_config`` overrides settings (``database_url``, ``env``, …)."""
    settings = load_settings(test_config)
    app = Flask(
        "crm",
        root_path=str(PROJECT_ROOT / "crm"),
        instance_path=str(INSTANCE_DIR),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        CRM_SETTINGS=settings,
        TESTING=settings.env == "test",
        MAX_CONTENT_LENGTH=512 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Behind the HTTPS proxy of production the cookie must never travel in clear text.
        SESSION_COOKIE_SECURE=settings.behind_proxy,
        REMEMBER_COOKIE_SECURE=settings.behind_proxy,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(settings.extra)
    if settings.behind_proxy:  # trust the reverse proxy's X-Forwarded-Proto/For/Host (one hop)
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    register_extensions(app, settings)
    register_request_hooks(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask, settings) -> None:
    from crm import i18n, ui
    from crm.auth.login import init_login

    dblayer.init_app(app, dblayer.Database(settings.database_url))
    csrf.init_app(app)
    init_login(app)
    i18n.init_app(app)
    ui.init_app(app)


def register_request_hooks(app: Flask) -> None:
    from crm.auth import sessions
    from crm.security import apply_security_headers

    @app.before_request
    def _request_id():
        g.request_id = uuid.uuid4().hex

    app.after_request(apply_security_headers)
    app.before_request(sessions.check)
    app.session_interface = _NoCookieSessionForApi()


class _NoCookieSessionForApi(SecureCookieSessionInterface):
    """The partner API authenticates by bearer key: its requests get an empty read-only session
    instead of one read from, signed into and saved to a cookie on every call."""

    def open_session(self, app: Flask, request):
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def register_blueprints(app: Flask) -> None:
    from crm import features

    for module in features.modules(features.VIEWS):
        app.register_blueprint(module.bp)


def register_errorhandlers(app: Flask) -> None:
    from crm.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from crm.cli import register

    register(app)
