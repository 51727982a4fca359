"""Rate limits (Flask-Limiter), counted in the storage the configuration names.

``CRM_RATELIMIT_STORAGE_URI`` (crm/config.py): ``memory://`` (the default, for the embedded
single-process set-up: each process counts on its own) or ``redis://host:6379`` (production:
every worker on every host counts in the same place, so a limit holds whatever the number of
workers). The limits, each a Flask-Limiter limit string that the app's configuration may
replace (tests do):

- ``LOGIN_RATE_LIMIT``: failed log-ins per client address (a guess at many accounts from one
  address; the lock-out in crm/auth/services.py guards each account).
- ``SEARCH_RATE_LIMIT``: customer searches per user.
- ``PARTNER_BAD_KEY_LIMIT``: calls of the partner API with a missing or wrong key, per client
  address; over it, every call from that address answers 429 (a right key as well, or the
  answer would tell a guess that hit).
- ``PARTNER_API_RATE``: calls per API key (partners/ratelimit.py).

The client address is ``request.remote_addr``: behind the proxy, as ProxyFix sets it from
exactly ``CRM_PROXY_HOPS`` trusted hops (crm/app.py).
"""

from __future__ import annotations

import functools
import logging
import math
import time

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import parse

_log = logging.getLogger(__name__)

DEFAULTS = {
    "LOGIN_RATE_LIMIT": "30 per 15 minutes",
    "SEARCH_RATE_LIMIT": "60 per minute",
    "PARTNER_BAD_KEY_LIMIT": "100 per 10 minutes",
}

# One Limiter per process, like the other extensions (crm.app.csrf); init_app gives it the
# storage of the app's configuration (a new one per app: tests never share counts). The moving
# window counts exactly the calls of the last period: the sliding-window counter estimates them
# from two fixed windows and let one call over the limit through after each window's end.
limiter = Limiter(key_func=get_remote_address, strategy="moving-window", in_memory_fallback_enabled=True)


@limiter.request_filter
def _partner_api() -> bool:
    """The partner API's limits are counted in code, once its key is known (partners/
    ratelimit.py): Flask-Limiter's own check before each of its calls would find nothing."""
    return request.path.startswith("/api/")


def init_app(app, settings) -> None:
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_STORAGE_OPTIONS={"key_prefix": settings.ratelimit_key_prefix},
    )
    limiter.init_app(app)


def configured(name: str):
    """The limit ``name`` of the current app's configuration (read at each request)."""
    return lambda: current_app.config[name]


def user_key() -> str:
    return f"user:{current_user.get_id()}"


def retry_after(limit_item, *key: str) -> int:
    """Seconds until ``key`` may try again under ``limit_item`` (at least 1)."""
    reset_at = limiter.limiter.get_window_stats(limit_item, *key).reset_time
    return max(1, math.ceil(reset_at - time.time()))


def page_breach(request_limit):
    """The page answering a breached limit: the layout's error page, 429, Retry-After."""
    message = _("Too many requests. Please wait a minute and try again.")
    response = current_app.make_response((render_template("error.html", code=429, message=message), 429))
    response.headers["Retry-After"] = str(max(1, request_limit.reset_at - int(time.time())))
    return response


def _not_a_search() -> bool:
    return not (request.values.get("q") or "").strip()


# The customer list: only a search (a query in ``q``, in the URL or a form) counts, per user.
search_limit = limiter.limit(
    configured("SEARCH_RATE_LIMIT"), key_func=user_key, exempt_when=_not_a_search, on_breach=page_breach
)


# --- limits decided in code (the partner API: before and after its key is known) ---------


def over(limit: str, *key: str) -> int:
    """0 if ``key`` may go on under ``limit`` (nothing counted), else seconds to wait."""
    return _counted(limit, key, count=False)


def hit(limit: str, *key: str) -> int:
    """Count one for ``key`` under ``limit``: 0 if allowed, else seconds to wait."""
    return _counted(limit, key, count=True)


@functools.lru_cache(maxsize=64)
def _item(limit: str):
    return parse(limit)


def _counted(limit: str, key: tuple[str, ...], count: bool) -> int:
    item = _item(limit)
    try:
        allowed = (limiter.limiter.hit if count else limiter.limiter.test)(item, *key)
        return 0 if allowed else retry_after(item, *key)
    except Exception as exc:  # noqa: BLE001 — the storage (Redis) is down: let the call through
        # A rate limit guards against floods; an outage of its storage must not stop every
        # redemption. Flask-Limiter's own decorators fall back to memory the same way.
        _log.warning("rate-limit storage unavailable (%s): %s not counted", type(exc).__name__, key[0])
        return 0


def client_address() -> str:
    return request.remote_addr or "-"
