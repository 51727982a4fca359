"""Customer list and page: search, filters, keyset pages, per-object authorisation, masking."""
from __future__ import annotations

import re

from sqlalchemy import select

from crm.audit import Actor
from crm.importer import import_csv
from crm.models import Customer
from tests.factories import customer_row, policy_row, write_csv

ACTOR = Actor("system", "tests")


def _load(database, tmp_path, rows):
    import_csv(database, "customers", write_csv(tmp_path / f"c{len(rows)}.csv", rows), ACTOR)
    with database.session() as s:
        return {c.customer_ref: c.id for c in s.scalars(select(Customer))}


def test_search_by_name_prefix_reference_and_phone(client, login_as, database, tmp_path):
    login_as("admin")
    a, b = customer_row(name="王大锤"), customer_row(name="李四", phone="13900000001")
    _load(database, tmp_path, [a, b])
    assert "王大锤" in client.get("/customers?q=王").get_data(as_text=True)
    assert "李四" not in client.get("/customers?q=王").get_data(as_text=True)
    assert "李四" in client.get("/customers?q=13900000001").get_data(as_text=True)
    assert "王大锤" in client.get(f"/customers?q={a['customer_ref'].lower()}").get_data(as_text=True)
    empty = client.get("/customers?q=赵").get_data(as_text=True)
    assert "No customers match" in empty


def test_filter_by_city_and_keyset_pages(client, login_as, database, tmp_path):
    login_as("admin")
    rows = [customer_row(city="上海") for _ in range(60)] + [customer_row(city="北京")]
    _load(database, tmp_path, rows)
    first = client.get("/customers?city=上海").get_data(as_text=True)
    assert "北京</td>" not in first
    refs_first = set(re.findall(r">(C\d{6})</a>", first))
    assert len(refs_first) == 50
    after = re.search(r'id="next-page" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(after).get_data(as_text=True)
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
    found = client.get(f"/customers?q={theirs['customer_ref']}").get_data(as_text=True)
    assert f">{theirs['customer_ref']}</a>" not in found and "No customers match" in found


def test_customer_page_masks_id_and_phone(client, login_as, database, tmp_path):
    login_as("underwriter")
    row = customer_row()
    ids = _load(database, tmp_path, [row])
    import_csv(database, "policies", write_csv(tmp_path / "p.csv", [policy_row(row["customer_ref"])]), ACTOR)
    html = client.get(f"/customers/{ids[row['customer_ref']]}").get_data(as_text=True)
    assert row["id_number"] not in html and row["phone"] not in html
    assert row["id_number"][:6] + "********" + row["id_number"][-4:] in html
    assert row["phone"][:3] + "****" + row["phone"][-4:] in html
    assert "LIFE-20" in html
    assert "Reveal" not in html  # underwriters have no reveal button …
    assert client.post(f"/customers/{ids[row['customer_ref']]}/reveal").status_code in (400, 403)


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
    rows = [customer_row(name=f"王{chr(0x4e00 + (i * 7) % 60)}") for i in range(55)] + [customer_row(name="李四")]
    _load(database, tmp_path, rows)
    first = client.get("/customers?q=王").get_data(as_text=True)
    refs_first = re.findall(r">(C\d{6})</a>", first)
    after = re.search(r'id="next-page" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    refs_second = re.findall(r">(C\d{6})</a>", client.get(after).get_data(as_text=True))
    by_ref = {r["customer_ref"]: r["name"] for r in rows}
    names = [by_ref[r] for r in refs_first + refs_second]
    assert len(names) == 55 and len(set(refs_first + refs_second)) == 55 and names == sorted(names)
