"""Oversized whole numbers in a path or a query string answer 404 / 400, never 500.

Every route with an ``<int:…>`` part is walked from the app's URL map, and every page a
person can open is asked for with every integer query parameter the views read, set to a
number no database column can hold — on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token

HUGE = "9" * 25  # beyond 2**63 - 1: no SQLite INTEGER, PostgreSQL BIGINT or INTEGER holds it
TOO_BIG_FOR_INTEGER = str(2**31)  # PostgreSQL's INTEGER, the type of the id columns
ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
QUERY_INTS = ("after", "page", "manager", "year", "customer", "partner", "id")


def _path(rule, number: str) -> str:
    """The rule's URL with every int part set to ``number`` and every other part to ``x``."""
    return ARG.sub(lambda m: number if m.group(1) == "int" else "x", rule.rule)


def _int_rules(app):
    return [r for r in app.url_map.iter_rules() if any(m.group(1) == "int" for m in ARG.finditer(r.rule))]


def _rules_of(app, pattern: str) -> list:
    return [r for r in app.url_map.iter_rules() if r.rule == pattern]


def test_every_int_route_answers_404_to_a_huge_number(app, client, login_as):
    login_as("admin")
    token = csrf_token(client, "/customers")
    rules = _int_rules(app)
    assert len(rules) >= 15
    for rule in rules:
        for number in (HUGE, TOO_BIG_FOR_INTEGER):
            path = _path(rule, number)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if path.startswith("/api/"):
                    continue  # the partner API takes a bearer key, below
                response = client.open(path, method=method, data={"csrf_token": token})
                # 405 where a GET and a POST rule share the path: werkzeug tells the method
                # apart before it converts, so the other rule's method is "allowed".
                expected = (404, 405) if len(_rules_of(app, rule.rule)) > 1 else (404,)
                assert response.status_code in expected, (method, path, response.status_code)


def test_the_largest_id_a_column_holds_is_just_not_found(client, login_as):
    login_as("admin")
    assert client.get(f"/customers/{2**31 - 1}").status_code == 404


def test_partner_api_answers_404_to_a_huge_id(app, client, database):
    from tests.partners_helpers import make_partner

    _partner_id, key = make_partner(database)
    for rule in _int_rules(app):
        if rule.rule.startswith("/api/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(
                    _path(rule, HUGE), method=method, json={}, headers={"Authorization": f"Bearer {key}"}
                )
                assert response.status_code == 404, (method, rule.rule, response.status_code)


# One test per value (each asks every page ~250 times): they spread over the workers.
@pytest.mark.parametrize(
    "value",
    [HUGE, TOO_BIG_FOR_INTEGER, f"-{HUGE}.{HUGE}", f"{HUGE}-01"],
    ids=["huge", "past-integer", "huge-decimal", "huge-month"],
)
def test_no_page_answers_500_to_a_huge_query_parameter(app, client, login_as, value):
    login_as("admin")
    pages = [
        r.rule
        for r in app.url_map.iter_rules()
        if "GET" in r.methods and not r.arguments and not r.rule.startswith(("/api/", "/static", "/logout"))
    ]
    assert len(pages) >= 20
    for page in pages:
        for name in QUERY_INTS + ("month",):
            response = client.get(page, query_string={name: value})
            assert response.status_code < 500, (page, name, value, response.status_code)


@pytest.mark.parametrize(
    "path, name",
    [
        ("/customers", "after"),
        ("/customers", "manager"),
        ("/workspace/portfolio", "page"),
        ("/workspace/portfolio", "manager"),
        ("/review/claims", "after"),
        ("/review/underwriting", "after"),
    ],
)
def test_an_oversized_query_integer_is_a_bad_request(client, login_as, path, name):
    login_as("admin")
    shape = "1.{}" if path.startswith("/review") else "{}"  # the queues' cursor is priority.id
    for number in (HUGE, TOO_BIG_FOR_INTEGER, "abc"):
        response = client.get(path, query_string={name: shape.format(number)})
        assert response.status_code == 400, (path, name, number, response.status_code)
    assert "navbar" in response.get_data(as_text=True)  # the app's own error page
    assert client.get(path, query_string={name: ""}).status_code == 200  # empty: the default
    assert client.get(path, query_string={name: shape.format(2**31 - 1)}).status_code == 200


def test_a_month_out_of_any_calendar_shows_the_current_month(client, login_as):
    login_as("admin")
    assert client.get("/workspace/visits", query_string={"month": f"{HUGE}-01"}).status_code == 200
