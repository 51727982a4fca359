"""The tier-policy editor is a form: typed, bounded fields whose errors come back under them,
CSRF as everywhere, and the saved versions in the format runs read."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from crm.models import TierPolicyVersion
from segmentation.policy import TierPolicy
from tests.conftest import csrf_token

PAGE = "/tiers/policy"


def _shown(client) -> dict[str, str]:
    page = client.get(PAGE).get_data(as_text=True)
    fields = set(TierPolicy().to_dict()) - {"version"}
    return {
        name: value
        for name, value in re.findall(r'<input[^>]*\bname="(\w+)"[^>]*\bvalue="([^"]*)"', page)
        if name in fields
    }


def _versions(database) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(TierPolicyVersion))


def _invalid(html: str, name: str) -> str | None:
    """The error shown under field ``name`` (None when it is not marked invalid)."""
    match = re.search(
        rf'<input [^>]*class="[^"]*is-invalid[^"]*" id="{name}"[^>]*>(?:<span class="input-group-text">[^<]*</span>)?'
        r'(?:</div>)?\s*<div class="invalid-feedback d-block">([^<]*)</div>',
        html,
    )
    return match.group(1) if match else None


def test_the_form_shows_the_policy_in_force(client, login_as):
    login_as("admin")
    shown = _shown(client)
    assert shown["window_days"] == "1095" and shown["v_premium"] == "50000.00"
    assert shown["excluded_claim_statuses"] == "rejected,withdrawn"
    assert set(shown) == set(TierPolicy().to_dict()) - {"version"}


def test_bad_values_come_back_under_their_fields_and_save_nothing(client, login_as, database):
    login_as("admin")
    values = _shown(client)
    bad = dict(
        values,
        csrf_token=csrf_token(client, PAGE),
        window_days="1.5",
        w_loss_ratio="abc",
        model_boosted_min_gain="2",
        v_premium="-5",
        excluded_claim_statuses="rejected,lost",
    )
    response = client.post(PAGE, data=bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for name in ("window_days", "w_loss_ratio", "model_boosted_min_gain", "v_premium", "excluded_claim_statuses"):
        assert _invalid(html, name), name
    assert "lost" in _invalid(html, "excluded_claim_statuses")
    assert _invalid(html, "recent_days") is None and 'value="abc"' in html  # what was typed stays
    crossed = client.post(PAGE, data=dict(values, csrf_token=csrf_token(client, PAGE), recent_days="400"))
    assert crossed.status_code == 422 and "Recent period" in _invalid(crossed.get_data(as_text=True), "recent_days")
    assert _versions(database) == 0


def test_the_form_needs_its_csrf_token(client, login_as, database):
    login_as("admin")
    assert client.post(PAGE, data=_shown(client)).status_code == 400
    assert _versions(database) == 0


def test_a_saved_version_keeps_the_policy_format(client, login_as, database):
    login_as("admin")
    values = dict(
        _shown(client),
        csrf_token=csrf_token(client, PAGE),
        v_premium="60000.50",
        w_loss_ratio="1.3",
        excluded_claim_statuses=" rejected , withdrawn ,paid",
        note="raise the bar",
    )
    assert client.post(PAGE, data=values).status_code == 302
    assert client.post(PAGE, data=dict(values, note="again")).status_code == 302
    with database.session() as s:
        rows = list(s.scalars(select(TierPolicyVersion).order_by(TierPolicyVersion.id)))
    assert [r.version for r in rows] == ["v1", "v2"] and rows[0].note == "raise the bar"
    expected = TierPolicy(
        v_premium=60000.5, w_loss_ratio=1.3, excluded_claim_statuses=("rejected", "withdrawn", "paid")
    ).to_dict()
    del expected["version"]
    assert json.loads(rows[0].settings) == expected
    assert TierPolicy.from_dict(json.loads(rows[0].settings)).v_premium == 60000.5


def test_a_risk_officer_sees_the_form_read_only(client, login_as):
    login_as("risk_officer")
    html = client.get(PAGE).get_data(as_text=True)
    assert re.search(r'<input[^>]*name="window_days"[^>]*readonly', html) and "Save as a new version" not in html
