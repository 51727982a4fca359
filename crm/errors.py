"""Error pages in the layout (and JSON for the API)."""

from __future__ import annotations

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError

_MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have permission to see this page."),
    404: _l("This page does not exist, or you cannot see it."),
    413: _l("The file is too large."),
    500: _l("Something went wrong on our side. The operation was not carried out."),
    503: _l("The database is not reachable right now. Nothing was changed; please try again shortly."),
}


def _render(code: int, message: str | None = None):
    text = message or str(_MESSAGES.get(code, _l("Error")))
    if request.path.startswith("/api/"):
        return jsonify(
            error={400: "bad_request", 403: "forbidden", 404: "not_found", 413: "too_large", 503: "unavailable"}.get(
                code, "server_error"
            ),
            message=text,
        ), code
    return render_template("error.html", code=code, message=text), code


def _method_not_allowed(e):
    """405: JSON under /api/ like every other answer there; pages keep werkzeug's own answer."""
    if not request.path.startswith("/api/"):
        return e
    response = jsonify(error="method_not_allowed", message="This method is not allowed on this resource.")
    response.headers["Allow"] = ", ".join(e.valid_methods or ())
    return response, 405


def register(app) -> None:
    app.register_error_handler(405, _method_not_allowed)
    for code in (400, 403, 404, 413, 500):
        app.register_error_handler(code, lambda e, code=code: _render(code))
    app.register_error_handler(
        CSRFError, lambda e: _render(400, _("The form expired or was not sent by this site. Please try again."))
    )
    app.register_error_handler(OperationalError, lambda e: _render(503))
