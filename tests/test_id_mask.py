"""The ID-number mask (issue 19, item 12): the first 3 and the last 4 characters, so that the
birth year a page shows beside it still leaves at least 10,000 numbers that fit."""

from __future__ import annotations

import csv
import datetime as dt

from sqlalchemy import select

from crm.audit import Actor
from crm.importer import import_csv
from crm.models import Customer
from crm.validators import id_check_char, make_id_number, mask_id_number
from tests.factories import customer_row, policy_row, write_csv

ACTOR = Actor("system", "tests")


def test_the_mask_keeps_the_first_3_and_the_last_4():
    assert mask_id_number("11010519491231002x") == "110***********002X"
    assert mask_id_number(" 440304200002291234 ") == "440***********1234"


def _candidates(masked: str, birth_year: int) -> int:
    """How many valid ID numbers agree with every character the mask shows and the birth
    year: each district code (digits 4–6) and each day of that year, checked against the
    shown characters and the check character."""
    days, day = [], dt.date(birth_year, 1, 1)
    while day.year == birth_year:
        days.append(day.strftime("%Y%m%d"))
        day += dt.timedelta(days=1)
    shown = [(i, ch) for i, ch in enumerate(masked) if ch != "*"]
    count = 0
    for district in range(1000):
        for date in days:
            number = f"{masked[:3]}{district:03d}{date}{masked[14:17]}"
            number += id_check_char(number)
            count += all(number[i] == ch for i, ch in shown)
    return count


def test_the_birth_year_beside_the_mask_leaves_at_least_10000_numbers():
    for number, year in (
        ("11010519491231002X", 1949),
        (make_id_number("440304", dt.date(2000, 2, 29), 123, "F"), 2000),
    ):
        assert _candidates(mask_id_number(number), year) >= 10_000


def test_no_masked_page_or_export_shows_the_birth_date_digits(client, auth, runner, make_user, database, tmp_path):
    _, manager = make_user("account_manager")
    row = customer_row(account_manager=manager, id_number=make_id_number("320582", dt.date(1987, 11, 23), 417, "M"))
    import_csv(database, "customers", write_csv(tmp_path / "c.csv", [row]), ACTOR)
    import_csv(database, "policies", write_csv(tmp_path / "p.csv", [policy_row(row["customer_ref"])]), ACTOR)
    with database.session() as s:
        customer_id = s.scalar(select(Customer.id))
    hidden = row["id_number"][3:14]  # district and birth date
    masked = row["id_number"][:3] + "*" * 11 + row["id_number"][-4:]
    for role in ("underwriter", "claims_reviewer", "risk_officer", "admin", "account_manager"):
        email = manager if role == "account_manager" else make_user(role)[1]
        assert auth.login(email).status_code == 302
        html = client.get(f"/customers/{customer_id}").get_data(as_text=True)
        assert masked in html and "1987" in html, role  # the birth year is shown …
        for digits in (hidden, "19871123", "871123"):  # … the birth date never
            assert digits not in html, (role, digits)
        auth.logout()
    result = runner.invoke(args=["export", "data", str(tmp_path / "export")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "export" / "customers.csv", newline="", encoding="utf-8") as f:
        [exported] = list(csv.DictReader(f))
    assert exported["id_number_masked"] == masked and "871123" not in str(exported)
