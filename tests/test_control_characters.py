"""Control characters in typed input: a field error on every form, a clear 400 for the address
(search box, filters), the same on both databases (issue 19, item 4)."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from crm.models.workspace import Visit
from tests.clock_helpers import business_today
from tests.conftest import csrf_token
from tests.workspace_helpers import two_portfolios


def _visits(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(Visit))


@pytest.mark.parametrize(
    "field,value", [("outcome", "回访\x00满意"), ("next_step", "送\x1b计划书"), ("outcome", "回访\x7f")]
)
def test_a_control_character_in_a_visit_note_is_a_field_error(
    client, login_as, make_user, database, tmp_path, field, value
):
    _, me = login_as("account_manager")
    _, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, me, other)
    page = f"/customers/{ids['a']}/visits/new"
    today = business_today().isoformat()
    data = {
        "csrf_token": csrf_token(client, page),
        "kind": "call",
        "visit_date": today,
        "outcome": "回访满意",
        "next_step": "送计划书",
        "next_step_due": today,
    } | {field: value}
    response = client.post(page, data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Remove the control character (U+00" in html and "invalid-feedback" in html
    assert _visits(database) == 0
    # Line breaks and tabs in a text area are text, not control characters to refuse.
    ok = client.post(page, data=data | {field: "回访满意\r\n第二行\t完", "next_step": "送计划书"})
    assert ok.status_code == 302
    assert _visits(database) == 1


def test_a_nul_in_the_search_box_or_a_filter_is_a_clear_400(client, login_as):
    login_as("admin")
    for url in (
        "/customers?q=%00",
        "/customers?q=138%001234",
        "/customers?city=%E4%B8%8A%00",
        "/workspace/visits?month=2025-0%1b1",
        "/customers?q=ok&q=%00",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "The address contains a control character (U+00" in response.get_data(as_text=True)
    assert client.get("/customers?q=%E7%8E%8B").status_code == 200


def test_the_field_error_speaks_chinese(client, login_as, make_user, database, tmp_path):
    _, me = login_as("account_manager", locale="zh")
    _, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, me, other)
    page = f"/customers/{ids['a']}/visits/new"
    response = client.post(
        page,
        data={
            "csrf_token": csrf_token(client, page),
            "kind": "call",
            "visit_date": business_today().isoformat(),
            "outcome": "\x00",
        },
    )
    assert response.status_code == 422 and "请删除此栏中的控制字符（U+0000）。" in response.get_data(as_text=True)
    assert "网址中含有控制字符（U+0000）" in client.get("/customers?q=%00").get_data(as_text=True)


def test_every_form_of_the_product_refuses_control_characters():
    """One mechanism: every form derives from crm.forms.Form (a new form on FlaskForm fails here)."""
    import importlib
    import pkgutil

    import crm
    import partners
    from crm.forms import Form

    for package in (crm, partners):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for c in subclasses(FlaskForm) if c.__module__.split(".")[0] in ("crm", "partners")]
    assert len(ours) > 20
    stray = [f"{c.__module__}.{c.__name__}" for c in ours if c is not Form and not issubclass(c, Form)]
    assert not stray, f"forms on FlaskForm instead of crm.forms.Form: {stray}"
    assert inspect.getmodule(Form).__name__ == "crm.forms"


def test_a_control_character_in_an_inline_reason_is_refused(client, login_as, database, tmp_path):
    """Views that take a reason without a form (void, tier overrides) refuse it the same way."""
    from crm.importer import import_csv
    from crm.models import Policy
    from tests.factories import customer_row, policy_row, write_csv
    from tests.workspace_helpers import ACTOR

    row = customer_row()
    import_csv(database, "customers", write_csv(tmp_path / "c.csv", [row]), ACTOR)
    import_csv(database, "policies", write_csv(tmp_path / "p.csv", [policy_row(row["customer_ref"])]), ACTOR)
    with database.session() as s:
        policy = s.scalar(select(Policy))
    login_as("admin")
    token = csrf_token(client, f"/customers/{policy.customer_id}")
    response = client.post(
        f"/admin/records/policy/{policy.id}/void", data={"csrf_token": token, "reason": "entered\x00twice by mistake"}
    )
    assert response.status_code == 400
    assert "The field reason contains a control character (U+0000)" in response.get_data(as_text=True)
    response = client.post(
        f"/tiers/customers/{policy.customer_id}/override",
        data={
            "csrf_token": token,
            "tier": "vip",
            "reason": "loyal\x00customer",
            "expires_on": (business_today() + dt.timedelta(days=90)).isoformat(),
        },
    )
    assert response.status_code == 400
    with database.session() as s:
        assert s.get(Policy, policy.id).voided_at is None
        from crm.models import TierOverride

        assert s.scalar(select(func.count()).select_from(TierOverride)) == 0
