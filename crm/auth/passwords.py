"""Password hashing (scrypt, via Werkzeug) and the password policy.

The hashing cost is a setting (``Settings.password_hash``): Werkzeug's scrypt default
everywhere except the test configuration, which uses a cheap cost because the suite creates
thousands of users. A stored hash names its own cost, so checking needs no setting.

The policy follows NIST SP 800-63B §3.1.1.2: a minimum length, and no password that is on
a list of common or breached passwords (vendored in ``crm/auth/data/``, with its licence),
nor an obvious variant of one: any case, letters written as digits or symbols (``P@ssw0rd``),
digits and symbols added before or after (``Password2024!``, ``Qwerty123456``).
"""

from __future__ import annotations

import functools
import gzip
import re
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common-passwords.txt.gz"
# A listed word this short found inside a longer password is no weakness: "Ab#93847562" is
# not "ab" with digits added. Four letters and more are ("love2024!2024").
_MIN_CORE = 4
_LEET = str.maketrans(
    {
        "@": "a",
        "4": "a",
        "8": "b",
        "(": "c",
        "3": "e",
        "6": "g",
        "9": "g",
        "#": "h",
        "1": "i",
        "!": "i",
        "|": "l",
        "0": "o",
        "$": "s",
        "5": "s",
        "7": "t",
        "+": "t",
        "2": "z",
    }
)
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


class WeakPassword(ValueError):
    """The password does not meet the policy; ``code`` names the rule, the message says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@functools.cache
def common_passwords() -> frozenset[str]:
    """The vendored list of common and breached passwords, lower case."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def _variants(password: str) -> set[str]:
    """The forms under which a password is looked up in the list: itself in lower case, its
    letters written as letters, and its core without the digits and symbols around it."""
    lowered = password.lower()
    forms = {lowered, lowered.translate(_LEET)}
    core = _EDGES.sub("", lowered)
    if len(core) >= _MIN_CORE:
        forms |= {core, core.translate(_LEET), _EDGES.sub("", core.translate(_LEET))}
    return {form for form in forms if form}


def is_common(password: str) -> bool:
    """True if the password, or an obvious variant of it, is on the list of common passwords."""
    listed = common_passwords()
    return any(form in listed for form in _variants(password))


def check_policy(password: str, email: str = "") -> None:
    """Raises WeakPassword if ``password`` may not be used (by the user with ``email``)."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword("short", f"at least {MIN_LENGTH} characters")
    lowered = password.lower()
    if is_common(password):
        raise WeakPassword("common", "a common password, or one found in data breaches")
    if len(set(password)) < 5:
        raise WeakPassword("repetitive", "too few different characters")
    if password.isdigit():
        raise WeakPassword("digits", "digits only")
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:])}
    if steps <= {1, -9} or steps <= {-1, 9}:  # 123456789012, abcdef…, and the reverse
        raise WeakPassword("sequence", "a run of consecutive characters")
    local = email.split("@")[0].lower()
    if len(local) >= 3 and local in lowered:
        raise WeakPassword("email", "must not contain the e-mail name")


# N=2^15, r=8, p=1: ~0.1 s and 32 MiB per hash, which is what makes guessing expensive.
STRONG = "scrypt:32768:8:1"
_method = STRONG


def use_method(method: str) -> None:
    """Hash new passwords with ``method`` (a Werkzeug method string such as "scrypt:32768:8:1");
    the app sets it from its settings at start. Raises ValueError for anything but scrypt."""
    global _method
    if method.split(":")[0] != "scrypt":
        raise ValueError(f"password hashing must be scrypt, not {method!r}")
    _method = method


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=_method)


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


@functools.cache
def _hash_of_nothing(method: str) -> str:
    return generate_password_hash("not-a-real-password-x", method=method)


def verify_no_one(password: str) -> bool:
    """Check ``password`` against a hash of nothing in particular, at the cost of a real check,
    so that the answer time does not reveal whether an e-mail address has an account. False."""
    check_password_hash(_hash_of_nothing(_method), password)
    return False
