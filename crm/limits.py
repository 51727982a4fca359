"""How large a request body each route takes: Flask's own ``request.max_content_length``,
chosen per route before anything reads the body.

The app's ``MAX_CONTENT_LENGTH`` (and ``MAX_FORM_MEMORY_SIZE``) is the limit of every form,
1 MiB. A blueprint or an endpoint names its own limit with ``set_body_limit`` (the partner
API 64 KiB, the upload page the configured upload size). The limit is looked up by the
request itself, not set by a view or a hook: CSRF protection reads a form's body in the
app's first ``before_request``, before any view or blueprint hook could change it.

Werkzeug enforces it without reading the body into memory: a ``Content-Length`` above the
limit is refused before a byte is read, and a chunked body (no ``Content-Length``) is read
through a stream that stops at the limit. Reading all of such a stream (``get_data``, an
url-encoded form) returns what came up to the limit, silently cut off (Werkzeug 3.1 raises
only on a read past it): a chunked body that fills its limit is refused here instead, so that
nothing is ever judged on a truncated body. (A chunked body of exactly the limit is refused
too; one with ``Content-Length`` may be exactly the limit.)
"""

from __future__ import annotations

from flask import Flask, Request, current_app
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream

KIB = 1024
MIB = 1024 * KIB
FORM_MAX_BYTES = 1 * MIB


def set_body_limit(app: Flask, name: str, max_bytes: int) -> None:
    """Requests to the endpoint or blueprint ``name`` may send at most ``max_bytes`` (an
    endpoint's own limit wins over its blueprint's)."""
    app.config.setdefault("BODY_LIMITS", {})[name] = max_bytes


class LimitedRequest(Request):
    """A request whose body limit is its route's (see the module's docstring)."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None:
            return self._max_content_length
        if current_app:
            limits = current_app.config.get("BODY_LIMITS", {})
            for name in (self.endpoint, self.blueprint):
                if name in limits:
                    return limits[name]
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def get_data(self, *args, **kwargs):
        data = super().get_data(*args, **kwargs)
        self._refuse_cut_off()
        return data

    def _load_form_data(self) -> None:
        super()._load_form_data()
        self._refuse_cut_off()

    def _refuse_cut_off(self) -> None:
        """Raises RequestEntityTooLarge if a chunked body was read up to its limit."""
        limit, stream = self.max_content_length, self.stream
        if (
            self.content_length is None
            and limit is not None
            and isinstance(stream, LimitedStream)
            and stream.tell() >= limit
        ):
            raise RequestEntityTooLarge()
