"""The application factory: reads like a table of contents."""

from __future__ import annotations

import datetime as dt
import gc
import uuid

from flask import Flask, g

from crm import db as dblayer
from crm import ui
from crm.config import INSTANCE_DIR, PROJECT_ROOT, load_settings
from crm.extensions import csrf
from crm.limits import FORM_MAX_BYTES, LimitedRequest


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
    register_url_converters(app)
    app.jinja_options = {**app.jinja_options, "bytecode_cache": ui.COMPILED_TEMPLATES}
    app.config.update(
        SECRET_KEY=settings.secret_key,
        CRM_SETTINGS=settings,
        TESTING=settings.env == "test",
        # Every form: 1 MiB; the partner API and the upload page name their own (crm/limits.py).
        MAX_CONTENT_LENGTH=FORM_MAX_BYTES,
        MAX_FORM_MEMORY_SIZE=FORM_MAX_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Behind the HTTPS proxy of production the cookie must never travel in clear text.
        SESSION_COOKIE_SECURE=settings.behind_proxy,
        REMEMBER_COOKIE_SECURE=settings.behind_proxy,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(settings.extra)
    app.request_class = LimitedRequest
    if settings.behind_proxy:
        # Trust the X-Forwarded-Proto/For/Host of exactly ``proxy_hops`` proxies: the client
        # address is the one the outermost trusted proxy saw, whatever a client wrote before
        # it. A client reaching the app directly could write them all: listen only behind it.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    register_extensions(app, settings)
    register_request_hooks(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def ready_to_serve() -> int:
    """Call once in a serving process, once the app is built and before it serves (gunicorn:
    gunicorn.conf.py). What exists by then (modules, routes, templates, the ORM's mappings)
    lives as long as the process: gc.freeze() takes it out of the collector's walks, so that a
    full collection walks what requests made, not the whole app each time. Returns how many
    objects were taken out."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def register_url_converters(app: Flask) -> None:
    """Before any route is added: ``<int:…>`` then rejects numbers no id column holds."""
    from crm.request_args import BoundedIntConverter

    app.url_map.converters["int"] = BoundedIntConverter


def register_extensions(app: Flask, settings) -> None:
    from crm import clock, i18n, ratelimits, record_digests, ui
    from crm.auth.login import init_login

    clock.set_business_timezone(settings.timezone)
    record_digests.use_secret(settings.secret_key)  # and its session events: every ORM write
    dblayer.init_app(app, dblayer.Database(settings.database_url))
    csrf.init_app(app)
    ratelimits.init_app(app, settings)
    init_login(app)
    i18n.init_app(app)
    ui.init_app(app)


def register_request_hooks(app: Flask) -> None:
    from crm.auth import sessions
    from crm.auth.session_store import ServerSessionInterface
    from crm.forms import refuse_control_characters
    from crm.security import apply_security_headers

    @app.before_request
    def _request_id():
        g.request_id = uuid.uuid4().hex

    app.after_request(apply_security_headers)
    app.before_request(sessions.check)
    app.before_request(refuse_control_characters)
    # Sessions live on the server, the cookie carries a random id; the partner API (bearer
    # keys) gets an empty read-only session: no cookie read, signed or saved on its calls.
    app.session_interface = ServerSessionInterface(api_prefix="/api/")


def register_blueprints(app: Flask) -> None:
    from crm import features

    for blueprint in features.blueprints():
        app.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    from crm.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from crm.cli import register

    register(app)
