"""The personal-data scan itself: it finds what it must (so that a clean run means something)."""
from __future__ import annotations

from crm.validators import make_id_number, mask_id_number, mask_phone
from tests.pii_scan import find_personal_data

import datetime as dt


def test_the_scan_finds_full_numbers_and_ignores_masked_ones():
    ident = make_id_number("310115", dt.date(1985, 3, 2), 7, "F")
    text = f"<td>{ident}</td><td>13912345678</td><td>{mask_id_number(ident)}</td><td>{mask_phone('13912345678')}</td>"
    assert find_personal_data(text) == [ident, "13912345678"]
    assert find_personal_data("P0000013912345678 amount 13912345678.00") == []
    assert find_personal_data("110105198001010000 is not a valid ID") == []


def test_every_page_of_the_suite_is_scanned(client):
    from tests.pii_scan import RECORDER

    before = RECORDER.responses
    client.get("/login")
    assert RECORDER.responses == before + 1
