"""Key journeys in a real browser: Debian's Chromium driven by Playwright, against a live server."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from crm.audit import Actor
from crm.importer import import_csv
from tests.conftest import PASSWORD
from tests.factories import customer_row, policy_row, write_csv

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
pytestmark = pytest.mark.browser


@pytest.fixture
def live_app(sqlite_url, tmp_path):
    """The app on a real HTTP port, in a thread; yields (base URL, app)."""
    from werkzeug.serving import make_server

    from crm.app import create_app

    app = create_app({"env": "test", "database_url": sqlite_url})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    app.extensions["crm_db"].dispose()


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(locale="en-US")
        yield page
        browser.close()


def _user(app, role: str, email: str) -> str:
    from crm.auth.services import create_user

    with app.extensions["crm_db"].transaction() as session:
        create_user(session, Actor("system", "tests"), email, role, PASSWORD)
    return email


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_manager_logs_in_finds_a_customer_and_switches_to_chinese(live_app, page, tmp_path):
    base, app = live_app
    email = _user(app, "account_manager", "am@browser.crm")
    row = customer_row(name="欧阳娜娜", account_manager=email)
    database = app.extensions["crm_db"]
    import_csv(database, "customers", write_csv(tmp_path / "c.csv", [row, customer_row(name="别人")]), Actor("system", "t"))
    import_csv(database, "policies", write_csv(tmp_path / "p.csv", [policy_row(row["customer_ref"])]), Actor("system", "t"))

    page.goto(base + "/")
    assert "/login" in page.url
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(base + "/dashboard")
    page.goto(base + "/customers")
    assert page.locator("#customer-table").is_visible()
    assert "别人" not in page.content()  # not in this manager's portfolio

    page.fill("#q", "欧阳")
    page.click("text=Search")
    page.click(f"text={row['customer_ref']}")
    assert page.locator("h1").inner_text().startswith("欧阳娜娜")
    assert row["id_number"] not in page.content()
    assert page.locator("text=LIFE-20").is_visible()
    _shot(page, "customer-page-en")

    page.click("button[data-locale=zh]")
    page.wait_for_load_state()
    assert page.locator("text=基本资料").is_visible()
    assert page.get_by_role("columnheader", name="年缴保费").is_visible()
    _shot(page, "customer-page-zh")


def test_wrong_password_shows_a_field_error(live_app, page):
    base, app = live_app
    email = _user(app, "admin", "admin@browser.crm")
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "wrong-password-123")
    page.click("#login-submit")
    assert page.locator(".invalid-feedback").inner_text() == "Wrong e-mail or password."
    _shot(page, "login-error")
