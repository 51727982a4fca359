"""Coupon codes: entropy, alphabet, and a check character that catches typing mistakes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partners import codes

bodies = st.text(alphabet=codes.ALPHABET, min_size=codes.RANDOM_LENGTH, max_size=codes.RANDOM_LENGTH)


def test_codes_carry_at_least_64_random_bits_and_avoid_confusable_characters():
    assert codes.RANDOM_LENGTH * math.log2(len(codes.ALPHABET)) >= 64
    assert not set("0O1IL") & set(codes.ALPHABET)
    sample = {codes.new_code() for _ in range(2000)}
    assert len(sample) == 2000 and all(codes.is_valid(c) for c in sample)


@settings(max_examples=300, deadline=None)
@given(bodies, st.data())
def test_every_single_substitution_is_caught(body, data):
    code = body + codes.check_character(body)
    i = data.draw(st.integers(0, len(code) - 1))
    replacement = data.draw(st.sampled_from([ch for ch in codes.ALPHABET if ch != code[i]]))
    assert not codes.is_valid(code[:i] + replacement + code[i + 1 :])


@settings(max_examples=300, deadline=None)
@given(bodies, st.data())
def test_every_adjacent_transposition_is_caught(body, data):
    code = body + codes.check_character(body)
    i = data.draw(st.integers(0, len(code) - 2))
    swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    assert swapped == code or not codes.is_valid(swapped)


@settings(max_examples=100, deadline=None)
@given(bodies)
def test_exhaustively_for_one_code_each(body):
    code = body + codes.check_character(body)
    for i in range(len(code)):
        for ch in codes.ALPHABET:
            if ch != code[i]:
                assert not codes.is_valid(code[:i] + ch + code[i + 1 :])


def test_input_is_normalised_and_problems_are_named():
    code = codes.new_code()
    assert codes.parse(" " + codes.display(code).lower() + " ") == code
    assert codes.parse(code[:7] + " - " + code[7:]) == code
    with pytest.raises(codes.BadCode, match="characters"):
        codes.parse(code[:-1])
    with pytest.raises(codes.BadCode, match="never contains"):
        codes.parse("O" + code[1:])
    with pytest.raises(codes.BadCode, match="mistyped"):
        codes.parse(code[:-1] + next(ch for ch in codes.ALPHABET if ch != code[-1]))
