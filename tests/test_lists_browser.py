"""A list in a real browser (Debian's Chromium via Playwright), in both languages: sorted by a
column and exported, the file holding what the screen shows, in its order.
Screenshots: test-artifacts/screenshots/."""

from __future__ import annotations

import csv
import io

import pytest

from tests.browser import _shot, _user, live_app, page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.factories import customer_row
from tests.workspace_helpers import load

pytestmark = pytest.mark.browser
CITIES = ["杭州", "北京", "上海", "广州", "深圳"]


def _column(page, index: int) -> list[str]:
    return [t.strip() for t in page.locator(f"#customer-table tbody tr td:nth-child({index})").all_inner_texts()]


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_a_list_sorted_by_a_column_exports_what_it_shows(live_app, page, tmp_path, locale):  # noqa: F811
    base, app = live_app
    email = _user(app, "admin", f"lists-{locale}@browser.crm")
    rows = [customer_row(city=city) for city in CITIES]
    load(app.extensions["crm_db"], tmp_path, rows)

    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_load_state()
    if locale == "zh":
        page.click("#user-menu-toggle")
        page.click("button[data-locale=zh]")
        page.wait_for_load_state()
    page.goto(base + "/customers")
    assert page.locator("#list-count").get_attribute("data-count") == str(len(CITIES))

    for expected in (sorted(CITIES), sorted(CITIES, reverse=True)):  # a click sorts, a second reverses
        with page.expect_navigation():
            page.click("th[data-sort-key=city] button")
        assert _column(page, 4) == expected
    _shot(page, f"list-sorted-{locale}")
    shown = _column(page, 1)

    with page.expect_download() as download:
        page.click("#export-csv")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    exported = list(csv.reader(io.StringIO(text)))[1:]
    assert [next(v for v in row if v in shown) for row in exported] == shown  # same rows, same order
