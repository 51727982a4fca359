"""Security headers on every response."""

from __future__ import annotations

from flask import request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'self'; object-src 'none'"
)


_ALWAYS = (
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)


def apply_security_headers(response):
    """Each header unless the view set its own (one pass over the response's headers, not one
    per header: this runs on every call of the partner API)."""
    headers = response.headers
    present = {key.lower() for key, _value in headers.items()}
    add = [(key, value) for key, value in _ALWAYS if key.lower() not in present]
    if request.is_secure and "strict-transport-security" not in present:
        add.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    if "cache-control" not in present and (request.path.startswith("/api/") or response.mimetype == "text/html"):
        # Pages carry personal data: no browser or proxy may keep a copy.
        add.append(("Cache-Control", "no-store"))
    headers.extend(add)
    return response
