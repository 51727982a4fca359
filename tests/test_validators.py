"""Unit and property tests for crm.validators (no app, no database)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from crm import validators as v

TODAY = date(2026, 1, 1)
VALID_ID = "11010519491231002X"  # the standard's worked example


# --- ID numbers ---------------------------------------------------------------------


def test_standard_example_parses():
    parsed = v.parse_id_number(VALID_ID, today=TODAY)
    assert parsed == v.IdNumber(VALID_ID, date(1949, 12, 31), "F", "110105")


def test_lowercase_x_is_normalised_and_spaces_ignored():
    assert v.parse_id_number("  11010519491231002x ", today=TODAY).number == VALID_ID


def test_male_from_odd_17th_digit():
    number = v.make_id_number("440305", date(1990, 5, 17), 7, "M")
    assert number[16] in "13579"
    assert v.parse_id_number(number, today=TODAY).gender == "M"


def test_check_char_examples():
    assert v.id_check_char("11010519491231002") == "X"
    assert v.id_check_char("44052418800101001") == "4"
    with pytest.raises(ValueError):
        v.id_check_char("1101051949123100")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1101051949123100",
        "110105194912310021X",
        "11010519491231002Y",
        "1101051949123100X2",
        "11010519491231００2X",
        "110105 19491231002X",
        None,
    ],
)
def test_bad_shape(text):
    with pytest.raises(ValueError, match="18-character resident ID|required"):
        v.parse_id_number(text, today=TODAY)


def test_first_digit_zero():
    first17 = "01010519491231002"
    with pytest.raises(ValueError, match="cannot start with 0"):
        v.parse_id_number(first17 + v.id_check_char(first17), today=TODAY)


def test_wrong_check_digit_names_expected():
    with pytest.raises(ValueError, match=r"^ID number check digit is wrong \(expected X\)$"):
        v.parse_id_number("110105194912310021", today=TODAY)


def test_unreal_birth_date():
    first17 = "11010519990231001"
    number = first17 + v.id_check_char(first17)
    with pytest.raises(ValueError, match="^ID number birth date 19990231 is not a real date$"):
        v.parse_id_number(number, today=TODAY)


def test_birth_before_1900_and_in_future():
    old = v.make_id_number("110105", date(1899, 12, 31), 1, "F")
    with pytest.raises(ValueError, match="before 1900"):
        v.parse_id_number(old, today=TODAY)
    assert v.parse_id_number(v.make_id_number("110105", date(1900, 1, 1), 1, "F"), today=TODAY)
    future = v.make_id_number("110105", TODAY + timedelta(days=1), 1, "F")
    with pytest.raises(ValueError, match="in the future"):
        v.parse_id_number(future, today=TODAY)
    assert v.parse_id_number(v.make_id_number("110105", TODAY, 1, "F"), today=TODAY)


def test_make_id_number_rejects_bad_input():
    for args in [
        ("010105", TODAY, 1, "M"),
        ("11010", TODAY, 1, "M"),
        ("110105", TODAY, 500, "M"),
        ("110105", TODAY, -1, "M"),
        ("110105", TODAY, 1, "X"),
    ]:
        with pytest.raises(ValueError):
            v.make_id_number(*args)


regions = st.from_regex(r"[1-9][0-9]{5}", fullmatch=True)
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
genders = st.sampled_from(["M", "F"])


@given(regions, births, st.integers(0, 499), genders)
def test_generated_ids_round_trip(region, birth, seq, gender):
    number = v.make_id_number(region, birth, seq, gender)
    assert v.parse_id_number(number, today=TODAY) == v.IdNumber(number, birth, gender, region)
    assert v.parse_id_number(number.lower(), today=TODAY).number == number


@given(regions, births, st.integers(0, 499), genders, st.integers(0, 17), st.sampled_from("0123456789Xx"))
def test_single_character_change_is_refused(region, birth, seq, gender, pos, new_char):
    """GB 11643 detects every single substitution: a digit change at position i shifts
    the weighted sum by w_i * delta with w_i and delta (1..9) both non-zero mod 11, so
    the check char recomputes differently; a change of the check char itself no longer
    matches; an X among the first 17 breaks the shape."""
    number = v.make_id_number(region, birth, seq, gender)
    changed = number[:pos] + new_char + number[pos + 1 :]
    assume(changed.upper() != number)
    first17 = changed[:17]
    if first17.isdigit():
        assert v.id_check_char(first17) != changed[17].upper()
    with pytest.raises(ValueError):
        v.parse_id_number(changed, today=TODAY)


@given(st.text(max_size=20))
def test_arbitrary_text_never_crashes_otherwise(text):
    try:
        parsed = v.parse_id_number(text, today=TODAY)
    except ValueError:
        return
    assert v.id_check_char(parsed.number[:17]) == parsed.number[17]


# --- phones -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["13812345678", " 13812345678 ", "+8613812345678", "8613812345678", "+86 13812345678", "86-13812345678"],
)
def test_phone_accepted(text):
    assert v.parse_phone(text) == "13812345678"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1381234567",
        "138123456789",
        "12812345678",
        "10012345678",
        "23812345678",
        "+8513812345678",
        "138-1234-5678",
        "１3812345678",
        "+86+8613812345678",
        "0086138123456",
    ],
)
def test_phone_refused(text):
    with pytest.raises(ValueError):
        v.parse_phone(text)


@given(st.integers(3, 9), st.from_regex(r"[0-9]{9}", fullmatch=True), st.sampled_from(["", "+86", "86", "+86 ", " "]))
def test_every_valid_phone_pattern_accepted(second, rest, prefix):
    number = f"1{second}{rest}"
    assert v.parse_phone(prefix + number + " ") == number


@given(st.from_regex(r"[0-9]{1,15}", fullmatch=True))
def test_phone_digits_accepted_only_when_pattern(digits):
    ok = (len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789") or (
        len(digits) == 13 and digits.startswith("861") and digits[3] in "3456789"
    )
    if ok:
        assert v.parse_phone(digits) == digits[-11:]
    else:
        with pytest.raises(ValueError):
            v.parse_phone(digits)


# --- dates, money, ints, enums, flags -----------------------------------------------


def test_parse_date():
    assert v.parse_date("2024-02-29") == date(2024, 2, 29)
    assert v.parse_date(" 2024-02-29 ") == date(2024, 2, 29)
    with pytest.raises(ValueError, match="^2023-02-29 is not a real date$"):
        v.parse_date("2023-02-29")
    for bad in ["2024-2-29", "2024/02/29", "20240229", "29-02-2024", "2024-02-29T00:00", ""]:
        with pytest.raises(ValueError):
            v.parse_date(bad)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("0", "0.00"),
        ("12", "12.00"),
        ("12.5", "12.50"),
        ("12.34", "12.34"),
        ("999999999999.99", "999999999999.99"),
        ("000123.40", "123.40"),
    ],
)
def test_money_accepted(text, expected):
    value = v.parse_money(text)
    assert value == Decimal(expected) and str(value) == expected


@pytest.mark.parametrize(
    "text,message",
    [
        ("-1", "negative"),
        ("-0.01", "negative"),
        ("1,000", "thousands"),
        ("1.234", "more than 2 decimal"),
        ("1000000000000", "too large"),
        ("1e5", "not an amount"),
        ("NaN", "not an amount"),
        ("inf", "not an amount"),
        ("Infinity", "not an amount"),
        (".5", "not an amount"),
        ("5.", "not an amount"),
        ("+5", "not an amount"),
        ("１", "not an amount"),
        ("", "required"),
        ("12 .3", "not an"),
    ],
)
def test_money_refused(text, message):
    with pytest.raises(ValueError, match=message):
        v.parse_money(text)


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2))
def test_money_round_trip(amount):
    assert v.parse_money(f"{amount:f}") == amount


def test_parse_int():
    assert v.parse_int("10", 0, 100) == 10
    assert v.parse_int(" -3 ") == -3
    with pytest.raises(ValueError, match="at least 1"):
        v.parse_int("0", 1, 100)
    with pytest.raises(ValueError, match="at most 100"):
        v.parse_int("101", 1, 100)
    for bad in ["1.0", "ten", "1e3", ""]:
        with pytest.raises(ValueError):
            v.parse_int(bad)


def test_parse_enum_and_bool():
    assert v.parse_enum("motor", v.PRODUCT_TYPES) == "motor"
    with pytest.raises(ValueError, match="not one of: life, health"):
        v.parse_enum("Motor", v.PRODUCT_TYPES)
    assert v.parse_bool01("1") is True and v.parse_bool01("0") is False
    for bad in ["true", "2", "", "yes"]:
        with pytest.raises(ValueError):
            v.parse_bool01(bad)


def test_enumerations_match_contract():
    assert v.SOURCES == ("referral", "cold_visit", "community_event", "agent", "online", "other")
    assert set(v.PRODUCT_TYPES) == {"life", "health", "critical_illness", "accident", "property", "motor", "travel"}
    assert v.PAYMENT_MODES == ("single", "annual", "semiannual", "quarterly", "monthly")
    assert v.POLICY_STATUSES == ("in_force", "lapsed", "cancelled", "matured")
    assert v.CLAIM_STATUSES == ("reported", "registered", "under_review", "approved", "paid", "rejected", "withdrawn")
    assert len(v.ROLES) == 6 and "partner_cashier" in v.ROLES


# --- masking ------------------------------------------------------------------------


def test_mask_examples():
    assert v.mask_id_number("11010519491231002x") == "110**************X"
    assert v.mask_phone("13812345678") == "138****5678"
    assert v.mask_phone("+86 13812345678") == "138****5678"
    assert v.mask_phone("123") == "***"


@given(regions, births, st.integers(0, 499), genders)
def test_id_mask_never_reveals_birth_date(region, birth, seq, gender):
    number = v.make_id_number(region, birth, seq, gender)
    masked = v.mask_id_number(number)
    assert len(masked) == 18 and masked[3:17] == "*" * 14
    assert masked[:3] == number[:3] and masked[17:] == number[17:]


@given(st.integers(3, 9), st.from_regex(r"[0-9]{9}", fullmatch=True))
def test_phone_mask_never_reveals_middle(second, rest):
    number = f"1{second}{rest}"
    masked = v.mask_phone(number)
    assert masked == number[:3] + "****" + number[7:]


@given(st.text(max_size=30))
def test_masks_hide_at_least_the_middle_of_anything(text):
    for masked, keep in ((v.mask_id_number(text), 7), (v.mask_phone(text), 7)):
        assert "*" in masked or not masked.strip("*")
        assert sum(c != "*" for c in masked) <= keep


def test_control_character_names_the_first_one_and_allows_tab():
    from crm.validators import control_character

    assert control_character("北京\t朝阳") is None
    assert control_character("a\x00b\x1b") == "U+0000"
    assert control_character("x\x7f") == "U+007F"
    assert control_character("line\nbreak") == "U+000A"
    assert control_character("line\r\nbreak\t", allow_newlines=True) is None
    assert control_character("line\r\n\x0bbreak", allow_newlines=True) == "U+000B"
