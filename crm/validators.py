"""Field parsers shared by the CSV importer and the web forms.

Every ``parse_*`` function takes the raw text of one field and either returns the
parsed value or raises ``ValueError`` with a short message meant for a person (the
importer prefixes it with ``row N, column C:``). Surrounding whitespace is ignored;
only ASCII digits count as digits (a full-width ``１`` is refused).

No Flask app and no database needed, so the importer, the forms and the demo-data
generator can all use it; the messages are lazy translations, read in the language of
whoever reads them (English outside a request).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Literal, NamedTuple

from flask_babel import lazy_gettext as _l

from crm.clock import business_today

# The contract's enumerations (CONTRACT.md); order is the contract's order.
SOURCES = ("referral", "cold_visit", "community_event", "agent", "online", "other")
PRODUCT_TYPES = ("life", "health", "critical_illness", "accident", "property", "motor", "travel")
PAYMENT_MODES = ("single", "annual", "semiannual", "quarterly", "monthly")
POLICY_STATUSES = ("in_force", "lapsed", "cancelled", "matured")
CLAIM_STATUSES = (
    "reported",
    "registered",
    "under_review",
    "approved",
    "paid",
    "rejected",
    "withdrawn",
)
ROLES = (
    "admin",
    "account_manager",
    "underwriter",
    "claims_reviewer",
    "risk_officer",
    "partner_cashier",
)

# GB 11643-1999: weight of each of the first 17 digits, and the check character for
# (weighted sum mod 11).
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_PHONE = re.compile(r"(?:\+?86[ -]?)?(1[3-9][0-9]{9})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_MONEY = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_INT = re.compile(r"[+-]?[0-9]+")
# Control characters refused in every text input: NUL and the rest of C0 except tab, and DEL.
# PostgreSQL cannot store a NUL at all and SQLite stores it silently; the others hide text.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Gender = Literal["M", "F"]


class IdNumber(NamedTuple):
    """A parsed resident ID number (``number`` is normalised: upper-case ``X``)."""

    number: str
    birth_date: date
    gender: Gender
    region_code: str


def _text(s: object) -> str:
    if s is None:
        raise ValueError(_l("a value is required"))
    text = str(s).strip()
    if not text:
        raise ValueError(_l("a value is required"))
    return text


def control_character(text: str, allow_newlines: bool = False) -> str | None:
    """The first control character of ``text`` as ``U+XXXX``, or None when there is none.

    Tab is allowed; ``allow_newlines`` also allows line feed and carriage return (the
    multi-line fields of the forms). The value itself is never part of a message: it may be
    personal data.
    """
    match = (_CONTROL_EXCEPT_LINES if allow_newlines else _CONTROL).search(text)
    return None if match is None else f"U+{ord(match.group()):04X}"


def id_check_char(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("the first 17 characters of an ID number must be digits")
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS))
    return ID_CHECK_CHARS[total % 11]


def make_id_number(region_code: str, birth: date, seq: int, gender: Gender) -> str:
    """Build a valid ID number (for demo data and tests).

    ``seq`` (0–499) picks the 3-digit order code ``2*seq`` (female) or ``2*seq + 1``
    (male), so the gender digit always agrees with ``gender``.
    """
    if not re.fullmatch(r"[1-9][0-9]{5}", region_code):
        raise ValueError("region code must be 6 digits, not starting with 0")
    if not 0 <= seq <= 499:
        raise ValueError("seq must be between 0 and 499")
    if gender not in ("M", "F"):
        raise ValueError("gender must be 'M' or 'F'")
    order = 2 * seq + (1 if gender == "M" else 0)
    first17 = f"{region_code}{birth:%Y%m%d}{order:03d}"
    return first17 + id_check_char(first17)


def parse_id_number(s: str, today: date | None = None) -> IdNumber:
    """Parse an 18-character PRC resident ID number (GB 11643-1999).

    Checks the shape, the first digit, the birth date (a real date, not before 1900,
    not after ``today``, which defaults to the current date) and the check character.
    A lower-case ``x`` is accepted and normalised to ``X``.
    """
    text = _text(s).upper()
    if not _ID_SHAPE.fullmatch(text):
        raise ValueError(_l("not an 18-character resident ID number"))
    if text[0] == "0":
        raise ValueError(_l("ID number cannot start with 0"))
    digits = text[6:14]
    try:
        birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise ValueError(_l("ID number birth date %(digits)s is not a real date", digits=digits)) from None
    if birth < EARLIEST_BIRTH_DATE:
        raise ValueError(_l("ID number birth date %(digits)s is before 1900", digits=digits))
    if birth > (today or business_today()):
        raise ValueError(_l("ID number birth date %(digits)s is in the future", digits=digits))
    expected = id_check_char(text[:17])
    if text[17] != expected:
        raise ValueError(_l("ID number check digit is wrong (expected %(expected)s)", expected=expected))
    gender: Gender = "M" if int(text[16]) % 2 else "F"
    return IdNumber(text, birth, gender, text[:6])


def parse_phone(s: str) -> str:
    """Parse a mainland mobile number; returns its 11 digits (a +86/86 prefix dropped)."""
    match = _PHONE.fullmatch(_text(s))
    if not match:
        raise ValueError(_l("not a mainland mobile number (11 digits starting 13–19)"))
    return match.group(1)


def parse_date(s: str) -> date:
    """Parse a date written exactly ``YYYY-MM-DD``."""
    text = _text(s)
    match = _DATE.fullmatch(text)
    if not match:
        raise ValueError(_l("%(text)s is not a date in YYYY-MM-DD form", text=repr(text)))
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        raise ValueError(_l("%(text)s is not a real date", text=text)) from None


def parse_money(s: str) -> Decimal:
    """Parse a non-negative CNY amount: digits, optionally ``.`` and 1–2 decimals.

    Refuses signs, thousands separators, exponents, NaN/infinity and more than 12
    digits before the point (the database column is ``Numeric(14, 2)``).
    """
    text = _text(s)
    if text.startswith("-"):
        raise ValueError(_l("amount must not be negative"))
    if "," in text:
        raise ValueError(_l("amount must not contain thousands separators"))
    match = _MONEY.fullmatch(text)
    if not match:
        raise ValueError(_l("%(text)s is not an amount like 1234.56", text=repr(text)))
    whole, fraction = match.groups()
    if fraction is not None and len(fraction) > 2:
        raise ValueError(_l("amount has more than 2 decimal places"))
    if len(whole.lstrip("0")) > 12:
        raise ValueError(_l("amount is too large"))
    return Decimal(text).quantize(Decimal("0.01"))


def parse_int(s: str, min: int | None = None, max: int | None = None) -> int:  # noqa: A002
    """Parse a whole number, optionally bounded (inclusive) by ``min`` and ``max``."""
    text = _text(s)
    if not _INT.fullmatch(text):
        raise ValueError(_l("%(text)s is not a whole number", text=repr(text)))
    value = int(text)
    if min is not None and value < min:
        raise ValueError(_l("must be at least %(min)s", min=min))
    if max is not None and value > max:
        raise ValueError(_l("must be at most %(max)s", max=max))
    return value


def parse_enum(s: str, allowed: Iterable[str]) -> str:
    """Return ``s`` when it is exactly one of ``allowed`` (case matters)."""
    text = _text(s)
    allowed = tuple(allowed)
    if text not in allowed:
        raise ValueError(_l("%(text)s is not one of: %(allowed)s", text=repr(text), allowed=", ".join(allowed)))
    return text


def parse_bool01(s: str) -> bool:
    """Parse a ``0``/``1`` flag."""
    text = _text(s)
    if text not in ("0", "1"):
        raise ValueError(_l("%(text)s is not 0 or 1", text=repr(text)))
    return text == "1"


def _mask(text: str, keep_start: int, keep_end: int) -> str:
    hidden = len(text) - keep_start - keep_end
    if hidden < 4:  # too short to show anything without revealing most of it
        return "*" * len(text)
    return text[:keep_start] + "*" * hidden + text[len(text) - keep_end :]


def mask_id_number(s: str) -> str:
    """Mask an ID number for display: ``110**************X`` (first 3 and the check character shown).

    Pages show the birth year and the city beside it, which leave only the few real district
    codes of that city (a dozen or so) possible. Hiding the district, the birth date and the
    order code still leaves districts × 365 × 1,000 / 11 numbers that fit (more than 300,000
    for a single district); showing the last four as well would leave a few hundred. The one ID
    mask: every page and export uses it. Staff verify a caller by the phone's last four (尾号).
    """
    return _mask(str(s).strip().upper(), 3, 1)


def mask_phone(s: str) -> str:
    """Mask a mobile number for display: ``138****5678`` (first 3, last 4 shown)."""
    text = str(s).strip()
    try:
        text = parse_phone(text)
    except ValueError:
        pass
    return _mask(text, 3, 4)
