"""English and Simplified Chinese, chosen per user (or per browser before log-in)."""

from __future__ import annotations

from flask import has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user

LOCALES = {"en": "English", "zh": "简体中文"}


def select_locale() -> str | None:
    if not has_request_context():  # a command or a job: the default locale (English)
        return None
    if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
        return current_user.locale
    if session.get("locale") in LOCALES:
        return session["locale"]
    return request.accept_languages.best_match(list(LOCALES)) or "en"


def init_app(app) -> None:
    from crm.config import PROJECT_ROOT

    Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(PROJECT_ROOT / "crm" / "translations"),
        default_timezone=app.config["CRM_SETTINGS"].timezone,
    )
    app.jinja_env.globals.update(LOCALES=LOCALES, get_locale=get_locale)
