"""The ID-number mask (issue 19, item 12): the first 3 characters and the check character, so
that the birth year and city a page shows beside it still leave at least 10,000 numbers that fit."""

from __future__ import annotations

import csv
import datetime as dt

from sqlalchemy import select

from crm.audit import Actor
from crm.importer import import_csv
from crm.models import Customer
from crm.validators import ID_CHECK_CHARS, ID_WEIGHTS, make_id_number, mask_id_number
from tests.factories import customer_row, policy_row, write_csv

ACTOR = Actor("system", "tests")


def test_the_mask_keeps_the_first_3_and_the_check_character():
    assert mask_id_number("11010519491231002x") == "110**************X"
    assert mask_id_number(" 440304200002291234 ") == "440**************4"


def _candidates(masked: str, birth_year: int, districts: int) -> int:
    """How many valid ID numbers agree with every character the mask shows and the birth year,
    when only ``districts`` district codes are possible (the page shows the city, which has a
    dozen or so): each district, each day of the year and each order code, checked against the
    shown check character (by the residues of the order code's weighted sum, to stay fast)."""
    assert set(masked[3:17]) == {"*"}, "the mask shows more than the first 3 and the check character"
    residues = [0] * 11
    for order in range(1000):
        residues[sum(int(c) * w for c, w in zip(f"{order:03d}", ID_WEIGHTS[14:17])) % 11] += 1
    day, count = dt.date(birth_year, 1, 1), 0
    while day.year == birth_year:
        for district in range(districts):
            head = f"{masked[:3]}{district:03d}{day:%Y%m%d}"
            fixed = sum(int(c) * w for c, w in zip(head, ID_WEIGHTS[:14]))
            count += sum(n for r, n in enumerate(residues) if ID_CHECK_CHARS[(fixed + r) % 11] == masked[17])
        day += dt.timedelta(days=1)
    return count


def test_the_birth_year_and_city_beside_the_mask_leave_at_least_10000_numbers():
    for number, year in (
        ("11010519491231002X", 1949),
        (make_id_number("440304", dt.date(2000, 2, 29), 123, "F"), 2000),
    ):
        assert _candidates(mask_id_number(number), year, districts=1) >= 10_000  # even one district


def test_no_masked_page_or_export_shows_the_birth_date_digits(client, auth, runner, make_user, database, tmp_path):
    _, manager = make_user("account_manager")
    row = customer_row(account_manager=manager, id_number=make_id_number("320582", dt.date(1987, 11, 23), 417, "M"))
    import_csv(database, "customers", write_csv(tmp_path / "c.csv", [row]), ACTOR)
    import_csv(database, "policies", write_csv(tmp_path / "p.csv", [policy_row(row["customer_ref"])]), ACTOR)
    with database.session() as s:
        customer_id = s.scalar(select(Customer.id))
    hidden = row["id_number"][3:14]  # district and birth date
    masked = row["id_number"][:3] + "*" * 14 + row["id_number"][-1:]
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
