"""Importing a GBK file in a real browser, in English and in Chinese (issue 24): the page lists
the columns and offers templates, the file sent as UTF-8 is refused with the way out, sent as
GB18030 it imports; and the browser's console reports no blocked inline style or script."""

from __future__ import annotations

import csv

import pytest

from crm.jobs import scheduler
from tests.browser import _shot, _user, live_app, page  # noqa: F401  (fixtures)
from tests.conftest import PASSWORD
from tests.factories import customer_row

pytestmark = pytest.mark.browser

WORDS = {
    "en": {"refused": "it looks like GBK", "done": "Imported 1 rows"},
    "zh": {"refused": "看起来是 GBK 编码", "done": "导入"},
}


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_an_admin_imports_a_gbk_file(live_app, page, tmp_path, locale):  # noqa: F811
    base, app = live_app
    database, settings = app.extensions["crm_db"], app.config["CRM_SETTINGS"]
    email = _user(app, "admin", f"importer-{locale}@browser.crm")
    console = []
    page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: console.append(str(error)))
    path = tmp_path / "客户.csv"
    row = customer_row(name="王小明", city="广州")
    with open(path, "w", newline="", encoding="gbk") as f:  # as Excel saves "CSV (逗号分隔)" on a Chinese Windows
        writer = csv.DictWriter(f, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)

    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    if locale == "zh":
        with database.transaction() as session:
            from sqlalchemy import update

            from crm.models import User

            session.execute(update(User).where(User.email == email).values(locale="zh"))
    page.goto(base + "/admin/import")
    assert page.locator("#columns-customers code", has_text="id_number").count() == 1
    assert page.locator("#template-claims").get_attribute("href").endswith("/admin/import/template/claims.csv")
    _shot(page, f"import-page-{locale}")

    def upload(encoding: str) -> str:
        page.goto(base + "/admin/import")
        page.select_option("#kind", "customers")
        page.set_input_files("#file", str(path))
        page.select_option("#encoding", encoding)
        page.click("#import-form button[type=submit]")
        page.wait_for_url("**/admin/imports/*")
        with app.app_context():
            scheduler.queued_imports(database, settings)  # the scheduler process's job
        page.reload()
        return page.locator("main").inner_text()

    refused = upload("utf-8")
    assert WORDS[locale]["refused"] in refused and "CSV UTF-8 (逗号分隔)" in refused
    _shot(page, f"import-gbk-refused-{locale}")
    done = upload("gb18030")
    assert page.locator("#import-result").is_visible() and WORDS[locale]["done"] in done
    _shot(page, f"import-gbk-done-{locale}")
    page.goto(base + "/customers?q=王小明")
    assert "王小明" in page.locator("main").inner_text()
    assert [text for text in console if "Content Security Policy" in text or "Refused" in text] == []
    assert console == []
