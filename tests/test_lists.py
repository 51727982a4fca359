"""The lists (customers, a portfolio): sorting by whitelisted columns, the count, the CSV
export of what is shown (masked, scoped), and the search by phone tail and reference."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from crm.audit import Actor
from crm.importer import import_csv
from crm.models import Customer
from tests.conftest import csrf_token
from tests.factories import customer_row, write_csv

ACTOR = Actor("system", "tests")
LISTS = {
    "customers": ("/customers", "/customers/export", ("reference", "name", "tier", "city", "source")),
    "portfolio": (
        "/workspace/portfolio",
        "/workspace/portfolio/export",
        ("reference", "name", "tier", "value_score", "risk_score", "city"),
    ),
}


def _load(database, tmp_path, rows):
    import_csv(database, "customers", write_csv(tmp_path / f"c{len(rows)}.csv", rows), ACTOR)
    with database.session() as s:
        return {c.customer_ref: c.id for c in s.scalars(select(Customer))}


def _post(client, path, page, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def _refs(html: str) -> list[str]:
    return re.findall(r'<a href="/customers/\d+">(C\d{6})</a>', html)


@pytest.fixture
def manager_book(login_as, make_user, database, tmp_path):
    _manager_id, email = login_as("account_manager")
    _, other = make_user("account_manager")
    mine = [
        customer_row(name="王一", city="上海", phone="13912344211", customer_ref="C004711", account_manager=email),
        customer_row(name="李二", city="北京", phone="13700004211", customer_ref="C004799", account_manager=email),
        customer_row(name="赵三", city="广州", phone="13655550000", customer_ref="C104711", account_manager=email),
    ]
    theirs = customer_row(name="钱四", phone="13655554211", customer_ref="C004712", account_manager=other)
    _load(database, tmp_path, [*mine, theirs])
    return {"mine": mine, "theirs": theirs}


@pytest.mark.parametrize("which", LISTS)
def test_each_whitelisted_column_sorts_both_ways_and_others_are_refused(client, manager_book, which):
    path, _export, columns = LISTS[which]
    for column in columns:
        up = _post(client, path, path, sort_to=column)
        down = _post(client, path, path, sort_to="-" + column)
        assert up.status_code == down.status_code == 200, column
        up_html, down_html = up.get_data(as_text=True), down.get_data(as_text=True)
        assert f'aria-sort="ascending" data-sort-key="{column}"' in up_html
        assert f'aria-sort="descending" data-sort-key="{column}"' in down_html
        assert sorted(_refs(up_html)) == sorted(_refs(down_html)) and len(_refs(up_html)) == 3
    by_name = _refs(_post(client, path, path, sort_to="name").get_data(as_text=True))
    assert by_name == ["C004799", "C004711", "C104711"]  # 李 < 王 < 赵 (code points)
    assert _refs(_post(client, path, path, sort_to="-reference").get_data(as_text=True)) == [
        "C104711",
        "C004799",
        "C004711",
    ]
    for refused in ("phone", "id_number", "password_hash", "name;drop", "-phone"):
        assert _post(client, path, path, sort_to=refused).status_code == 400, refused
        assert client.get(path, query_string={"sort": refused}).status_code == 400, refused


@pytest.mark.parametrize("which", LISTS)
def test_count_and_export_equal_what_is_shown_masked_and_scoped(client, manager_book, which):
    path, export, _columns = LISTS[which]
    html = _post(client, path, path, sort_to="-name").get_data(as_text=True)
    assert 'data-count="3"' in html
    response = _post(client, export, path, sort="-name")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))[1:]
    assert [r[0] for r in rows] == _refs(html) == ["C104711", "C004711", "C004799"]
    text = response.get_data(as_text=True)
    assert "139****4211" in text and "13912344211" not in text
    assert manager_book["theirs"]["customer_ref"] not in text  # another manager's customer


@pytest.mark.parametrize("which", LISTS)
def test_phone_tail_and_reference_beginning_find_in_each_list(client, manager_book, which):
    path, export, _columns = LISTS[which]
    tail = _post(client, path, path, q="4211").get_data(as_text=True)
    assert sorted(_refs(tail)) == ["C004711", "C004799"] and 'data-count="2"' in tail
    assert _refs(_post(client, path, path, q="004711").get_data(as_text=True)) == ["C004711"]
    assert sorted(_refs(_post(client, path, path, q="c0047").get_data(as_text=True))) == ["C004711", "C004799"]
    exported = _post(client, export, path, q="4211").get_data(as_text=True)
    assert "C004711" in exported and "C104711" not in exported and "C004712" not in exported
