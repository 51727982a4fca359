"""Password hashing (scrypt, via Werkzeug) and the password policy.

The hashing cost is a setting (``Settings.password_hash``): Werkzeug's scrypt default
everywhere except the test configuration, which uses a cheap cost because the suite creates
thousands of users. A stored hash names its own cost, so checking needs no setting.
"""
from __future__ import annotations

import functools

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
# The most common passwords and patterns: refused whatever their length.
_COMMON = {
    "password", "passw0rd", "123456", "12345678", "123456789", "1234567890", "qwerty", "qwertyuiop",
    "111111", "abc123", "iloveyou", "admin", "welcome", "letmein", "monkey", "dragon", "000000",
    "password1", "password123", "qwerty123", "1q2w3e4r", "123123", "a123456", "woaini1314",
}


class WeakPassword(ValueError):
    """The password does not meet the policy; the message says why."""


def check_policy(password: str, email: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"at least {MIN_LENGTH} characters")
    lowered = password.lower()
    if lowered in _COMMON or any(lowered.startswith(c) and len(set(lowered[len(c):])) <= 1 for c in _COMMON):
        raise WeakPassword("too common")
    if len(set(password)) < 5:
        raise WeakPassword("too few different characters")
    if password.isdigit():
        raise WeakPassword("digits only")
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:])}
    if steps <= {1, -9} or steps <= {-1, 9}:  # 123456789012, abcdef…, and the reverse
        raise WeakPassword("a run of consecutive characters")
    local = email.split("@")[0].lower()
    if len(local) >= 3 and local in lowered:
        raise WeakPassword("must not contain the e-mail name")


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
