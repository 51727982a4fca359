"""Every page of every role in Chinese (issue 24): a browser logs in as each demo role on a
seeded database, follows every menu link and one link of each kind of detail page it finds
(a customer, a case, a coupon…), and fails on visible English words outside a short
allow-list. The walker discovers the pages from the pages themselves, so a page added later
is walked too. Text marked as code (``<code>``, monospace, ``translate="no"``) is a code, not
English. Screenshots go to test-artifacts/screenshots/zh-*.png."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from crm.demo import DEMO_USERS, seed_demo
from tests.browser import _shot, live_app, page  # noqa: F401  (fixtures)
from tests.clock_helpers import business_today
from tests.conftest import PASSWORD
from tests.template_helpers import seeded

pytestmark = pytest.mark.browser

# Words that stay as they are in a Chinese page: brands (browsers and systems of the sessions
# page too), units, currencies, abbreviations the industry uses in Chinese too, the date format
# the files use, and the demo users' Latin names.
ALLOWED = {
    "CRM", "VIP", "ID", "CSV", "UTF", "GBK", "GB18030", "Excel", "Windows", "CNY", "USD", "API",
    "SHA", "JSON", "SLA", "FYC", "KPI", "MiB", "KiB", "km", "h", "min", "QR", "OpenAPI", "English",
    "Admin", "Wang", "Li", "Zhang", "Zhao", "Chen", "Liu", "Zhou", "Sun", "Poisson", "GLM", "AUC",
    "Chrome", "Edge", "Firefox", "Safari", "Opera", "Linux", "macOS", "iOS", "Android", "ChromeOS",
    "YYYY-MM-DD",
}  # fmt: skip
SKIP = re.compile(r"/logout|/locale|\.csv$|\.json$|/export|/download|/print|/static/|/api/")
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
MAX_PAGES_PER_ROLE = 40

VISIBLE_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('code, kbd, pre, script, style, .font-monospace, [translate="no"], '
    + '.visually-hidden, [hidden], option:not(:checked)').forEach(e => e.remove());
  return body.innerText;
}"""


def _pattern(path: str) -> str:
    """A page's kind: its path with every number and code replaced (one of each is walked)."""
    return re.sub(r"/[^/]*\d[^/]*", "/#", path)


def _english(text: str) -> list[str]:
    words = set()
    for token in re.split(r"\s+", text):
        if any(ch.isdigit() for ch in token) or "@" in token or "_" in token or "/" in token:
            continue  # codes (C000123, P000000018), amounts, e-mails, file and code names
        for word in WORD.findall(token):
            if word not in ALLOWED and not (word.isupper() and len(word) <= 3):
                words.add(word)
    return sorted(words)


def _walk(page, base: str, role: str) -> dict[str, list[str]]:
    """Visit the start page, every menu link and one page of each kind linked from those."""
    found: dict[str, list[str]] = {}
    seen_patterns: set[str] = set()
    queue = ["/"]
    depth = {"/": 0}
    visited = 0
    while queue and visited < MAX_PAGES_PER_ROLE:
        path = queue.pop(0)
        pattern = _pattern(path)
        if pattern in seen_patterns:
            continue
        seen_patterns.add(pattern)
        response = page.goto(base + path)
        if response is None or response.status >= 400 or "text/html" not in response.headers.get("content-type", ""):
            continue
        visited += 1
        _shot_viewport(page, f"zh-{role}-{visited:02d}")
        words = _english(page.evaluate(VISIBLE_TEXT))
        if words:
            found[path] = words
        if depth[path] >= 2:
            continue
        links = page.eval_on_selector_all(
            "a[href]:not([download])", "els => els.map(e => e.getAttribute('href'))"
        )  # the menu first (it is first in the page), then the page's own links
        for href in links:
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/") or SKIP.search(parts.path):
                continue
            if parts.path not in depth and _pattern(parts.path) not in seen_patterns:
                depth[parts.path] = depth[path] + 1
                queue.append(parts.path)
    return found


def _shot_viewport(page, name: str) -> None:
    from tests.browser import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


# The first demo user of each role: one walk, and one test, per role (they balance over the workers).
ROLE_USERS: dict[str, str] = {}
for _email, _role, _name in DEMO_USERS:
    ROLE_USERS.setdefault(_role, _email)


def _seed(database) -> None:
    """The demo users, with a known password, reading Chinese, and a small demo portfolio."""
    from crm.audit import Actor
    from crm.auth.services import create_user

    with database.transaction() as session:
        for email, role, name in DEMO_USERS:
            create_user(session, Actor("system", "tests"), email, role, PASSWORD, name, locale="zh")
    seed_demo(database, 40, 7, as_of=business_today())


@pytest.mark.parametrize("role", list(ROLE_USERS))
def test_every_page_of_every_role_is_in_chinese(live_app, page, role):  # noqa: F811
    base, app = live_app
    database = app.extensions["crm_db"]
    seeded(database, f"zh-walk-{business_today()}", lambda: _seed(database))

    page.goto(base + "/login")
    page.fill("input[name=email]", ROLE_USERS[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    english = _walk(page, base, role)
    assert english == {}, f"English on Chinese pages of {role}:\n" + "\n".join(
        f"  {path}: {', '.join(words)}" for path, words in sorted(english.items())
    )
