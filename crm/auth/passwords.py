"""Password hashing (scrypt, via Werkzeug) and the password policy."""
from __future__ import annotations

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


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)
