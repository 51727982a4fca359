"""The words the Chinese walk (test_chinese_browser.py) found in English, checked fast and in
both languages: each is said in the user's language and the English UI shows no raw code."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from flask_babel import force_locale

from crm.models import RiskModelRecord
from crm.tiers import models_store
from segmentation import build_training_frame, fit_frequency_model
from segmentation.truth import make_true_portfolio
from tests.conftest import csrf_token

AS_OF = dt.date(2026, 11, 24)
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@pytest.fixture
def shell_app(sqlite_url):
    """The app for the functions that only read the request's language (SQLite only)."""
    from crm.app import create_app

    app = create_app({"env": "test", "database_url": sqlite_url})
    yield app
    app.extensions["crm_db"].dispose()


def _in_chinese(client, path: str) -> str:
    client.post("/language", data={"locale": "zh", "csrf_token": csrf_token(client, path), "next": path})
    return client.get(path).get_data(as_text=True)


def test_definitions_are_given_in_the_users_language(client, login_as):
    login_as("underwriter")
    english = client.get("/reports/definitions").get_data(as_text=True)
    assert "A year always has 365 days" in english and "每年按365天计" not in english
    assert "已赚保费（1/365法）" in english  # the industry's Chinese term beside the English one
    chinese = _in_chinese(client, "/reports/definitions")
    assert "每年按365天计" in chinese and "A year always has 365 days" not in chinese
    assert "Earned premium (1/365 method)" not in chinese


def test_entry_options_show_labels_not_codes(client, login_as):
    login_as("underwriter")
    options = dict(re.findall(r'<option[^>]*value="([^"]+)"[^>]*>([^<]*)</option>', client.get("/review/entry").text))
    assert options["in_force"] == "In force" and options["life"] == "Life" and options["single"] == "Single premium"
    assert not [value for value, text in options.items() if "_" in text]
    options = dict(
        re.findall(r'<option[^>]*value="([^"]+)"[^>]*>([^<]*)</option>', _in_chinese(client, "/review/entry"))
    )
    assert options["in_force"] == "有效" and options["life"] == "寿险"
    assert not [text for text in options.values() if LATIN_WORD.search(text)]


def test_why_a_case_opened_in_the_users_language(shell_app):
    from crm.review.labels import case_why

    amounts = {"amount": "86000.00", "threshold": "50000.00"}
    with shell_app.test_request_context():
        assert (
            case_why("over_large_claim", amounts) == "claimed ¥86,000.00, over the large-claim threshold of ¥50,000.00"
        )
        with force_locale("zh"):
            assert case_why("over_large_claim", amounts) == "索赔金额 ¥86,000.00，超过大额赔案标准 ¥50,000.00"
            assert case_why("on_watchlist", None) == "客户在观察名单上"
            assert "出险日期 2026-10-28" in case_why(
                "cover_after_loss", {"entered": "2026-12-07", "loss": "2026-10-28"}
            )
            late = {"entered": "2026-12-07", "days": 75, "start": "2026-09-23"}
            assert "共 75 天" in case_why("late_entry", late)
            # An older version's sentence that the migration to codes could not read: as written.
            assert case_why(None, None, "资料齐全") == "资料齐全"


def test_a_session_shows_browser_and_system(shell_app):
    from crm.auth.sessions import describe_user_agent

    chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1 MicroMessenger/8.0.50"
    )
    with shell_app.test_request_context():
        assert describe_user_agent(chrome) == "Chrome 131 · Windows"
        assert describe_user_agent(chrome + " Edg/131.0.2903.86") == "Edge 131 · Windows"
        assert describe_user_agent("curl/8.5.0") == "unknown browser"
        with force_locale("zh"):
            assert describe_user_agent(iphone) == "微信 8 · iOS"


@pytest.mark.parametrize("customers, fallback", [(40, True), (400, False)])
def test_the_model_note_in_the_users_language(shell_app, customers, fallback):
    """The note the fit writes (a credibility fallback on a small book, a GLM on a larger one),
    after a refit of an older version's pickle, read in Chinese."""
    from crm.tiers.model_page import describe

    book = make_true_portfolio(customers, seed=3, as_of=AS_OF)
    fitted = fit_frequency_model(build_training_frame(*book[:3], AS_OF))
    assert (fitted.kind == "credibility_fallback") == fallback
    note = models_store.LEGACY_NOTE.format(version="20251124") + " " + fitted.note
    record = RiskModelRecord(
        version="v",
        kind=fitted.kind,
        note=note,
        n_rows=fitted.n_rows,
        metrics=json.dumps(fitted.metrics, default=float),
        data_window=json.dumps(fitted.data_window, default=str),
        blob=fitted.to_bytes(),
    )
    with shell_app.test_request_context():
        english = describe(record)
        assert "_" not in str(english["kind"]) and english["note"].startswith(
            "Refitted: the model stored before (20251124)"
        )
        with force_locale("zh"):
            page = describe(record)
            words = set(LATIN_WORD.findall(str(page["kind"]) + page["note"])) - {"GLM"}
            assert page["note"].startswith("已重新拟合") and not words, words
            assert ("信度加权" if fallback else "广义线性模型的因子") in page["note"]
