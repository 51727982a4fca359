"""The Chinese catalogue is the one translators edit: it compiles, and it translates every
string the code and the templates mark (a new untranslated string fails here, not in front of
a user). The template is extracted afresh, as `make messages` does."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "crm" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
# The Makefile's `messages` target extracts with these keywords (checked below).
KEYWORDS = ["-k", "_l", "-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2"]


def _catalogue():
    with open(CATALOGUE, "rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    pot = tmp_path_factory.mktemp("messages") / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            *KEYWORDS,
            "--no-location",
            "-o",
            str(pot),
            str(ROOT),
        ]
    )
    with open(pot, "rb") as f:
        return read_po(f)


def test_the_catalogue_compiles_without_errors():
    catalogue = _catalogue()
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalogue.check()]
    assert problems == []
    assert [m.id for m in catalogue if m.id and m.fuzzy] == []  # a fuzzy entry is left out of the .mo
    out = io.BytesIO()
    write_mo(out, catalogue)
    assert out.getvalue()


def test_every_marked_string_has_a_chinese_translation(template):
    catalogue = _catalogue()
    ids = [(m.id, m.context) for m in template if m.id]
    assert len(ids) > 500  # the extraction found the app's strings
    missing = [
        f"{context + ': ' if context else ''}{msgid!r}"
        for msgid, context in ids
        if not (
            catalogue.get(msgid, context)
            and catalogue.get(msgid, context).string
            and all(catalogue.get(msgid, context).string)
        )
    ]
    assert missing == [], "untranslated (add them to messages.po): " + "; ".join(map(str, missing))


def test_make_messages_extracts_with_the_same_keywords():
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8")
    extract = re.search(r"pybabel extract ([^\n]*)", recipe).group(1)
    assert " ".join(KEYWORDS) in extract


def test_a_service_refusal_reaches_each_user_in_their_language(client, login_as, database, tmp_path, auth):
    from tests.conftest import csrf_token
    from tests.review_helpers import claimable_case

    case = claimable_case(database, tmp_path)
    for locale, refusal in (("zh", "状态为 open 的案件不能作出决定"), ("en", "a case that is open cannot be decided")):
        login_as("claims_reviewer", locale=locale)
        token = csrf_token(client, f"/review/cases/{case.id}")
        response = client.post(
            f"/review/cases/{case.id}/decide", data={"csrf_token": token, "decision": "approved", "reason": "fine"}
        )
        assert response.status_code == 403 and refusal in response.get_data(as_text=True)
        auth.logout()
