"""Customer list and page: search, filters, keyset pages, per-object authorisation, masking."""

from __future__ import annotations

import re

from sqlalchemy import select

from crm.audit import Actor
from crm.importer import import_csv
from crm.models import Customer
from tests.conftest import csrf_token
from tests.factories import customer_row, policy_row, write_csv

ACTOR = Actor("system", "tests")


def search(client, q: str = "", **filters) -> str:
    """The customer list for a search as the page's form sends it (a POST: no URL holds it)."""
    data = {"csrf_token": csrf_token(client, "/customers"), "q": q, **filters}
    response = client.post("/customers", data=data)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def next_page(client, html: str) -> str:
    """Follow the list's "Next page" button (a small form of hidden fields)."""
    form = re.search(r'<form method="post" action="/customers">(.*?)id="next-page"', html, re.S).group(1)
    data = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
    assert "csrf_token" in data
    return client.post("/customers", data=data).get_data(as_text=True)


def _load(database, tmp_path, rows):
    import_csv(database, "customers", write_csv(tmp_path / f"c{len(rows)}.csv", rows), ACTOR)
    with database.session() as s:
        return {c.customer_ref: c.id for c in s.scalars(select(Customer))}


def test_search_by_name_prefix_reference_and_phone(client, login_as, database, tmp_path):
    login_as("admin")
    a, b = customer_row(name="王大锤"), customer_row(name="李四", phone="13900000001")
    _load(database, tmp_path, [a, b])
    assert "王大锤" in search(client, "王")
    assert "李四" not in search(client, "王")
    assert "李四" in search(client, "13900000001")
    assert "王大锤" in search(client, a["customer_ref"].lower())
    assert "No customers match" in search(client, "赵")


def test_filter_by_city_and_keyset_pages(client, login_as, database, tmp_path):
    login_as("admin")
    rows = [customer_row(city="上海") for _ in range(60)] + [customer_row(city="北京")]
    _load(database, tmp_path, rows)
    first = client.get("/customers?city=上海").get_data(as_text=True)
    assert "北京</td>" not in first
    refs_first = set(re.findall(r">(C\d{6})</a>", first))
    assert len(refs_first) == 50
    second = next_page(client, first)
    refs_second = set(re.findall(r">(C\d{6})</a>", second))
    assert len(refs_second) == 10 and not refs_first & refs_second
    assert 'id="next-page"' not in second


def test_account_manager_sees_only_their_portfolio(client, login_as, make_user, database, tmp_path):
    manager_id, manager_email = login_as("account_manager")
    _, other_email = make_user("account_manager")
    mine, theirs = customer_row(account_manager=manager_email), customer_row(account_manager=other_email)
    ids = _load(database, tmp_path, [mine, theirs])
    listing = client.get("/customers").get_data(as_text=True)
    assert mine["customer_ref"] in listing and theirs["customer_ref"] not in listing
    assert client.get(f"/customers/{ids[mine['customer_ref']]}").status_code == 200
    # Another manager's customer answers exactly like one that does not exist.
    assert client.get(f"/customers/{ids[theirs['customer_ref']]}").status_code == 404
    assert client.get("/customers/999999").status_code == 404
    found = search(client, theirs["customer_ref"])
    assert f">{theirs['customer_ref']}</a>" not in found and "No customers match" in found


def test_customer_page_masks_id_and_phone(client, login_as, database, tmp_path):
    login_as("underwriter")
    row = customer_row()
    ids = _load(database, tmp_path, [row])
    import_csv(database, "policies", write_csv(tmp_path / "p.csv", [policy_row(row["customer_ref"])]), ACTOR)
    html = client.get(f"/customers/{ids[row['customer_ref']]}").get_data(as_text=True)
    assert row["id_number"] not in html and row["phone"] not in html
    assert row["id_number"][:3] + "*" * 14 + row["id_number"][-1:] in html
    assert row["phone"][:3] + "****" + row["phone"][-4:] in html
    assert "LIFE-20" in html
    assert "Reveal" not in html  # underwriters have no reveal button …
    # … and a well-formed request (a valid CSRF token) is refused for the role, not the form.
    token = csrf_token(client, "/customers")
    refused = client.post(f"/customers/{ids[row['customer_ref']]}/reveal", data={"csrf_token": token})
    assert refused.status_code == 403
    assert row["id_number"] not in refused.get_data(as_text=True)


def test_error_pages_use_the_layout(client, login_as):
    login_as("admin")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "navbar" in response.get_data(as_text=True)


def test_security_headers(client):
    response = client.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_name_search_pages_in_name_order(client, login_as, database, tmp_path):
    login_as("admin")
    rows = [customer_row(name=f"王{chr(0x4E00 + (i * 7) % 60)}") for i in range(55)] + [customer_row(name="李四")]
    _load(database, tmp_path, rows)
    first = search(client, "王")
    refs_first = re.findall(r">(C\d{6})</a>", first)
    refs_second = re.findall(r">(C\d{6})</a>", next_page(client, first))
    by_ref = {r["customer_ref"]: r["name"] for r in rows}
    names = [by_ref[r] for r in refs_first + refs_second]
    assert len(names) == 55 and len(set(refs_first + refs_second)) == 55 and names == sorted(names)
