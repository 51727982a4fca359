"""The customer search is no unmasking oracle (issue 19, item 1).

A search by a full mobile or ID number is a reveal: only roles that may reveal find anyone by
it, and each such search is in the audit trail. Everyone else searches by name, reference
(also its beginning) or the last four digits of the phone — what masked lists show anyway —
and a full number from them finds nothing, tells nothing and is not echoed back. The search
travels in a POST body, so no URL, and no access log line, holds what was typed.
"""

from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import select

from crm.audit import Actor
from crm.importer import import_csv
from crm.models import Customer
from crm.models.audit import AuditEvent
from tests.conftest import PASSWORD, csrf_token
from tests.factories import customer_row, write_csv

ACTOR = Actor("system", "tests")
NOT_REVEALING = ("underwriter", "claims_reviewer", "risk_officer")


def _load(database, tmp_path, rows) -> dict[str, int]:
    import_csv(database, "customers", write_csv(tmp_path / f"c{len(rows)}.csv", rows), ACTOR)
    with database.session() as s:
        return {c.customer_ref: c.id for c in s.scalars(select(Customer))}


def _search(client, q: str) -> str:
    response = client.post("/customers", data={"csrf_token": csrf_token(client, "/customers"), "q": q})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _reveals(database) -> list[AuditEvent]:
    with database.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "pii.reveal").order_by(AuditEvent.seq)))


def _without_token(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


@pytest.fixture
def two_customers(database, tmp_path):
    a = customer_row(name="王大锤", phone="13912344211", customer_ref="C004711")
    b = customer_row(name="李四", phone="13700004211", customer_ref="C004799")
    c = customer_row(name="赵六", phone="13655550000", customer_ref="C104711")
    ids = _load(database, tmp_path, [a, b, c])
    return {"a": a, "b": b, "c": c, "ids": ids}


@pytest.mark.parametrize("role", NOT_REVEALING)
def test_a_full_number_finds_nothing_for_a_role_that_may_not_reveal(client, login_as, database, two_customers, role):
    login_as(role)
    a = two_customers["a"]
    for typed in (
        a["phone"],
        "+86 " + a["phone"],
        a["phone"][:3] + "-" + a["phone"][3:7] + "-" + a["phone"][7:],
        a["id_number"],
        a["id_number"].lower(),
    ):
        html = _search(client, typed)
        assert 'id="search-refused"' in html, typed
        assert a["customer_ref"] not in html and "王大锤" not in html, typed
        assert a["phone"] not in html and a["id_number"] not in html and a["id_number"][6:14] not in html, typed
        assert 'id="q" name="q" value=""' in html  # not even echoed into the search box
    assert _reveals(database) == []


def test_a_refused_search_answers_the_same_for_a_customer_and_a_stranger(client, login_as, two_customers):
    login_as("underwriter")
    a = two_customers["a"]
    stranger_phone, stranger_id = "13811112222", a["id_number"][:14] + "9990"
    assert _without_token(_search(client, a["phone"])) == _without_token(_search(client, stranger_phone))
    assert _without_token(_search(client, a["id_number"])) == _without_token(_search(client, stranger_id))


@pytest.mark.parametrize("role", ["admin", "account_manager"])
def test_a_full_number_search_by_a_revealing_role_is_audited_as_a_reveal(client, login_as, database, tmp_path, role):
    _user_id, email = login_as(role)
    a = customer_row(name="王大锤", account_manager=email)
    ids = _load(database, tmp_path, [a, customer_row(name="李四", account_manager=email)])
    html = _search(client, a["phone"])
    assert a["customer_ref"] in html and "李四" not in html and 'id="search-revealed"' in html
    html = _search(client, a["id_number"])
    assert a["customer_ref"] in html and "李四" not in html
    events = _reveals(database)
    assert [(e.entity_type, e.entity_id, e.actor_label) for e in events] == [
        ("customer", str(ids[a["customer_ref"]]), email)
    ] * 2
    assert [json.loads(e.after) for e in events] == [
        {"fields": ["phone"], "via": "search"},
        {"fields": ["id_number"], "via": "search"},
    ]
    assert all(a["phone"] not in (e.after or "") and a["id_number"] not in (e.after or "") for e in events)
    # A number that finds no one is audited too: "not a customer" is an answer as well.
    assert "No customers match" in _search(client, "13811112222")
    last = _reveals(database)[-1]
    assert last.entity_id is None and json.loads(last.after)["customers"] == []


def test_a_manager_finds_no_other_portfolio_by_a_full_number(client, login_as, make_user, database, tmp_path):
    _user_id, _email = login_as("account_manager")
    _, other = make_user("account_manager")
    theirs = customer_row(account_manager=other)
    _load(database, tmp_path, [theirs])
    html = _search(client, theirs["phone"])
    assert theirs["customer_ref"] not in html and "No customers match" in html


@pytest.mark.parametrize("role", NOT_REVEALING + ("admin",))
def test_tail_four_and_partial_reference_and_name_work_for_every_role(client, login_as, two_customers, role):
    login_as(role)
    tail = _search(client, "4211")
    assert "C004711" in tail and "C004799" in tail and "C104711" not in tail
    assert two_customers["a"]["phone"] not in tail and "139****4211" in tail
    partial = _search(client, "004711")
    assert "C004711" in partial and "C004799" not in partial and "C104711" not in partial
    assert "C004711" in _search(client, "c0047") and "C004799" in _search(client, "c0047")
    assert "C104711" not in _search(client, "C0047")
    assert "赵六" in _search(client, "赵") and "C004711" not in _search(client, "赵")


def test_a_search_in_a_url_is_ignored(client, login_as, two_customers):
    login_as("admin")
    html = client.get("/customers", query_string={"q": two_customers["a"]["phone"]}).get_data(as_text=True)
    assert 'id="q" name="q" value=""' in html and 'id="search-revealed"' not in html
    assert 'method="post"' in html and ">C004799</a>" in html  # the whole list: no search was made


def test_no_log_line_of_a_real_server_holds_the_number_searched(app, database, make_user, two_customers, caplog):
    """Through a real HTTP server: its access log names the path, never what was searched."""
    import threading

    import requests
    from werkzeug.serving import make_server

    _, email = make_user("admin")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    caplog.set_level(logging.DEBUG)
    try:
        with requests.Session() as http:
            token = re.search(
                r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', http.get(base + "/login").text
            ).group(1)
            http.post(base + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
            token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(base + "/customers").text).group(1)
            a = two_customers["a"]
            for typed in (a["phone"], a["id_number"], "王大锤"):
                found = http.post(base + "/customers", data={"csrf_token": token, "q": typed})
                assert found.status_code == 200 and "C004711" in found.text
    finally:
        server.shutdown()
    lines = [r.getMessage() for r in caplog.records]
    assert any("POST /customers" in line for line in lines)  # the access log is on …
    for line in lines:  # … and holds none of what was typed
        assert a["phone"] not in line and a["id_number"] not in line and "王大锤" not in line, line
