"""Coupon codes: unguessable, typable, with a check character.

13 characters drawn by ``secrets`` from a 31-character alphabet without 0/O/1/I/L give
31^13 ≈ 2^64.4 codes. The check character makes the whole code, read as base-31 digits
with weights 3^k (3 is a primitive root mod 31), sum to 0 mod 31. Because 31 is prime, a
single changed character alters the sum by δ·3^k ≠ 0, and swapping neighbours a, b alters it
by (a−b)·3^k·2 ≠ 0: every single substitution and adjacent transposition is caught.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
RANDOM_LENGTH = 13
LENGTH = RANDOM_LENGTH + 1
_SEPARATORS = re.compile(r"[\s\-_.]+")


class BadCode(ValueError):
    """Not a coupon code: wrong length, a character outside the alphabet, or a failed check."""


def _checksum(text: str) -> int:
    total = 0
    for ch in text:
        total = (total * 3 + _VALUE[ch]) % 31
    return total


def check_character(body: str) -> str:
    """The character that makes ``body`` + it a valid code."""
    return ALPHABET[(-3 * _checksum(body)) % 31]


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + check_character(body)


def is_valid(code: str) -> bool:
    return len(code) == LENGTH and all(ch in _VALUE for ch in code) and _checksum(code) == 0


def normalise(text: str) -> str:
    """Upper-case, without spaces, dashes, dots or underscores (as people and scanners type)."""
    return _SEPARATORS.sub("", (text or "").upper())


def parse(text: str) -> str:
    """The canonical code for what someone typed; raises BadCode saying what is wrong."""
    code = normalise(text)
    if len(code) != LENGTH:
        raise BadCode(f"a coupon code has {LENGTH} characters")
    wrong = sorted({ch for ch in code if ch not in _VALUE})
    if wrong:
        raise BadCode(f"a coupon code never contains {', '.join(wrong)}")
    if _checksum(code) != 0:
        raise BadCode("the code does not check out: a character is mistyped")
    return code


def display(code: str) -> str:
    """Grouped for reading aloud and printing: ``ABCD-EFGH-JKMN-PQ``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
