"""The personal-data scan: every page, API answer, export and log line the test suite produces
is kept, and at the end searched for full ID numbers and mobile numbers. Only responses of
views that exist to reveal them (marked ``reveals_personal_data``) may contain them, besides
what the request itself sent (a search for a phone number shows that number in the box).
"""

from __future__ import annotations

import logging
import re

from crm.validators import id_check_char

ID_RE = re.compile(r"(?<![0-9A-Za-z])([1-9][0-9]{16}[0-9Xx])(?![0-9A-Za-z])")
PHONE_RE = re.compile(r"(?<![0-9A-Za-z.])(1[3-9][0-9]{9})(?![0-9A-Za-z]|\.[0-9])")
TEXT_TYPES = ("text/html", "application/json", "text/csv", "text/plain")
# Both need a run of at least 11 digits: most pages have none, and this one pattern finds that
# in a fifth of the time the two above take (every response of the suite is scanned).
DIGIT_RUN_RE = re.compile(r"[0-9]{11}")


def find_personal_data(text: str) -> list[str]:
    """Full ID numbers (with a valid check character) and mainland mobile numbers in text."""
    if not DIGIT_RUN_RE.search(text):
        return []
    found = [m for m in ID_RE.findall(text) if id_check_char(m[:17]) == m[17].upper()]
    return found + PHONE_RE.findall(text)


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.findings: list[str] = []
        self.responses = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken log call is not ours to judge here
            return
        for value in find_personal_data(message):
            self.findings.append(f"log {record.name}: {value[:3]}… in {message[:80]!r}")

    def response(self, sender, response, **_extra) -> None:
        from flask import current_app, request
        from flask_login import current_user

        if response.is_streamed or not response.mimetype or response.mimetype not in TEXT_TYPES:
            return
        self.responses += 1
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, "reveals_personal_data", False):
            return
        try:
            typed = request.query_string.decode(errors="replace") + " ".join(request.form.values())
        except Exception:  # noqa: BLE001 - e.g. a body refused as too large: nothing was typed
            typed = ""
        for value in find_personal_data(response.get_data(as_text=True)):
            if value in typed:  # the user's own search echoed back is not a disclosure
                continue
            role = getattr(current_user, "role", "anonymous") if current_user else "anonymous"
            self.findings.append(f"{request.method} {request.path} as {role}: {value[:3]}…{value[-2:]}")


RECORDER = Recorder()
