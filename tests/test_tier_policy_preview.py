"""The tier-policy editor people understand (issue 24): every setting labelled, described,
with its unit and the rules it feeds, in both languages; and a dry run of a draft that shows
how many customers would move between which tiers, made by the recalculation's own preview
mode, saving nothing and changing no tier."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from crm import audit
from crm.jobs import recalc
from crm.models import CustomerTier, TierPolicyVersion, TierRun
from crm.tiers.forms import PARAMETERS, SECTIONS, TierPolicyForm
from tests.clock_helpers import business_today
from tests.conftest import csrf_token
from tests.test_tiers_ui import _seed

PAGE = "/tiers/policy"


def _values(client) -> dict[str, str]:
    html = client.get(PAGE).get_data(as_text=True)
    values = dict(re.findall(r'<input[^>]*\bname="(\w+)"[^>]*\bvalue="([^"]*)"', html))
    values["csrf_token"] = csrf_token(client, PAGE)
    return values


def _moves(html: str) -> dict[str, int]:
    rows = re.findall(r'<tr data-move="([^"]+)">.*?<td class="text-end">(\d+)</td></tr>', html)
    return {move: int(n) for move, n in rows}


def _tiers(database) -> dict[int, str]:
    with database.session() as s:
        return {t.customer_id: t.tier for t in s.scalars(select(CustomerTier))}


def test_every_setting_is_described_in_a_section():
    placed = [name for _title, names in SECTIONS for name in names]
    assert sorted(placed) == sorted(TierPolicyForm.POLICY_FIELDS) == sorted(PARAMETERS)


def test_settings_have_labels_units_and_rules_in_both_languages(client, login_as):
    login_as("admin")
    html = client.get(PAGE).get_data(as_text=True)
    assert "Frequent claims: claims in the last year" in html and "Credibility constant" in html
    block = re.search(r'data-parameter="w_freq_claims_12m">(.*?)</div>\s*</div>', html, re.S).group(1)
    assert "claims</span>" in block and "Frequent claims" in block  # unit, and the rule it feeds
    money = re.search(r'data-parameter="v_premium">(.*?)policy-feeds', html, re.S).group(1)
    assert "¥</span>" in money and "annual premium in force" in money
    for raw in ("w_freq_claims_12m", "credibility_k", "v_premium"):
        assert f">{raw}<" not in html  # a setting's name is never its label


def test_the_editor_in_chinese(client, login_as):
    login_as("admin", locale="zh")
    html = client.get(PAGE).get_data(as_text=True)
    assert "近一年出险次数" in html and "信度常数" in html and "天</span>" in html
    assert "Frequent claims" not in html and "Credibility constant" not in html


def test_a_dry_run_shows_the_moves_and_changes_nothing(client, login_as, database):
    _seed(database)
    login_as("admin")
    before = _tiers(database)
    values = dict(_values(client), v_premium="8000", action="preview")
    response = client.post(PAGE, data=values)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="policy-preview"' in html
    shown = _moves(html)
    assert shown.get("standard→vip", 0) > 0  # a lower VIP bar makes VIPs
    assert _tiers(database) == before
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(TierPolicyVersion)) == 0
        run = s.scalar(select(TierRun).order_by(TierRun.id.desc()))
        assert run.mode == "preview" and run.policy_version.startswith("draft-")
    # The same settings saved, a preview with the stored policy moves the very same customers.
    assert client.post(PAGE, data=dict(values, action="save", csrf_token=csrf_token(client, PAGE))).status_code == 302
    actor = audit.Actor("system", "tests")
    saved = recalc.recalculate(database, recalc.RunRequest(as_of=business_today(), actor=actor, mode="preview"))
    assert saved.moves == shown
    # A draft's preview cannot be published as it is: it was not the stored policy.
    assert "Publish this recalculation" not in client.get(f"/tiers/runs/{run.id}").get_data(as_text=True)


def test_a_dry_run_waits_for_a_running_recalculation(client, login_as, database):
    login_as("admin")
    token = csrf_token(client, "/tiers/runs")
    client.post("/tiers/runs", data={"csrf_token": token, "mode": "preview"})
    response = client.post(PAGE, data=dict(_values(client), action="preview"))
    assert response.status_code == 409 and "queued or running" in response.get_data(as_text=True)


def test_a_bad_draft_is_not_run(client, login_as, database):
    login_as("admin")
    response = client.post(PAGE, data=dict(_values(client), v_premium="-1", action="preview"))
    assert response.status_code == 422 and 'id="policy-preview"' not in response.get_data(as_text=True)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(TierRun)) == 0


def test_a_draft_file_wins_and_a_configured_file_only_fills_in(database, tmp_path):
    from crm.tiers.policy import current_policy, draft_policy, save_policy, write_draft

    with database.transaction() as s:
        save_policy(s, audit.Actor("system", "tests"), {"v_premium": 60000.0})
    draft = write_draft(draft_policy({"v_premium": 8000.0}), tmp_path)
    with database.session() as s:
        assert current_policy(s, str(draft)).v_premium == 8000.0
        assert current_policy(s, str(draft)).version == draft_policy({"v_premium": 8000.0}).version
        # A stored version is in force: the configured file is not even read.
        assert current_policy(s, str(tmp_path / "missing.json")).version == "v1"
