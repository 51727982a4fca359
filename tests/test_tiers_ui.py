"""Tier pages: queue a preview, the scheduler runs it, progress, policy versions, overrides."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from crm import audit
from crm.demo import seed_demo
from crm.jobs import recalc
from crm.models import AuditEvent, CustomerTier, TierHistory, TierOverride, TierPolicyVersion, TierRun
from tests.clock_helpers import business_today
from tests.conftest import csrf_token
from tests.template_helpers import seeded

AS_OF = dt.date(2026, 11, 24)


def _seed(database, n=150):
    """The demo portfolio of n customers, from a copy seeded once a session (tests/template_helpers)."""
    seeded(database, f"demo-{n}-4", lambda: seed_demo(database, n, seed=4, as_of=AS_OF))


def test_preview_is_queued_for_the_scheduler_and_changes_nothing(client, login_as, database):
    _seed(database)
    login_as("risk_officer")
    with database.session() as s:
        before = {t.customer_id: t.tier for t in s.scalars(select(CustomerTier))}
    token = csrf_token(client, "/tiers/runs")
    response = client.post("/tiers/runs", data={"csrf_token": token, "mode": "preview", "as_of": "2028-01-01"})
    assert response.status_code == 302
    run_id = int(re.search(r"/tiers/runs/(\d+)", response.headers["Location"]).group(1))
    assert client.get(f"/tiers/runs/{run_id}.json").get_json()["state"] == "queued"
    # A second click while it is queued gets a clear "already" answer, not a second run.
    again = client.post("/tiers/runs", data={"csrf_token": token, "mode": "publish"}, follow_redirects=True)
    assert "already queued or running" in again.get_data(as_text=True)
    assert recalc.process_queue(database) is not None  # what the scheduler process does
    status = client.get(f"/tiers/runs/{run_id}.json").get_json()
    assert status == {"id": run_id, "state": "completed", "progress": 100, "error": None}
    page = client.get(f"/tiers/runs/{run_id}").get_data(as_text=True)
    assert "Publish this recalculation" in page
    with database.session() as s:
        assert {t.customer_id: t.tier for t in s.scalars(select(CustomerTier))} == before
        assert s.get(TierRun, run_id).mode == "preview"


def test_customer_page_says_why(client, login_as, database):
    _seed(database)
    login_as("admin")
    with database.session() as s:
        vip = s.scalar(select(CustomerTier).where(CustomerTier.tier == "vip").limit(1))
    html = client.get(f"/customers/{vip.customer_id}").get_data(as_text=True)
    assert 'id="tier-panel"' in html and "Every rule, and what would change the tier" in html
    assert ("High annual premium" in html) or ("Long-term regular-premium customer" in html)
    assert 'class="tier-history-chart"' in html
    assert f'id="value-score">{vip.value_score:.0f}<' in html  # whole points, as published


def test_policy_edit_creates_a_version_and_refuses_bad_values(client, login_as, database):
    login_as("admin")
    page = client.get("/tiers/policy").get_data(as_text=True)
    values = dict(re.findall(r'<input[^>]*\bname="(\w+)"[^>]*\bvalue="([^"]*)"', page))
    values.pop("csrf_token", None)
    bad = dict(values, v_premium="-5", csrf_token=csrf_token(client, "/tiers/policy"))
    response = client.post("/tiers/policy", data=bad)
    assert response.status_code == 422 and "v_premium" in response.get_data(as_text=True)
    good = dict(values, v_premium="60000", note="raise the bar", csrf_token=csrf_token(client, "/tiers/policy"))
    assert client.post("/tiers/policy", data=good).status_code == 302
    with database.session() as s:
        version = s.scalar(select(TierPolicyVersion))
        assert version.version == "v1" and '"v_premium": 60000.0' in version.settings
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "tier_policy.version")) is not None


def test_risk_officer_reads_but_cannot_edit_the_policy(client, login_as):
    login_as("risk_officer")
    assert client.get("/tiers/policy").status_code == 200
    assert client.post("/tiers/policy", data={"csrf_token": csrf_token(client, "/tiers/policy")}).status_code == 403


def test_lifting_a_watchlist_customer_needs_a_second_person(client, auth, make_user, database):
    _seed(database, 400)
    with database.session() as s:
        watch = s.scalar(select(CustomerTier).where(CustomerTier.tier == "watchlist").limit(1))
    assert watch is not None
    _, first = make_user("risk_officer")
    _, second = make_user("risk_officer")
    auth.login(first)
    token = csrf_token(client, f"/customers/{watch.customer_id}")
    client.post(
        f"/tiers/customers/{watch.customer_id}/override",
        data={
            "csrf_token": token,
            "tier": "standard",
            "reason": "fraud flag cleared by SIU",
            "expires_on": (business_today() + dt.timedelta(days=90)).isoformat(),
        },
    )
    with database.session() as s:
        override = s.scalar(select(TierOverride))
        assert override.status == "pending"
        assert s.get(CustomerTier, watch.customer_id).tier == "watchlist"
    refused = client.post(
        f"/tiers/overrides/{override.id}/approve",
        data={"csrf_token": csrf_token(client, "/tiers/overrides"), "reason": "ok"},
        follow_redirects=True,
    )
    assert "four eyes" in refused.get_data(as_text=True)
    auth.logout()
    auth.login(second)
    client.post(
        f"/tiers/overrides/{override.id}/approve",
        data={"csrf_token": csrf_token(client, "/tiers/overrides"), "reason": "checked the file"},
    )
    with database.session() as s:
        state = s.get(CustomerTier, watch.customer_id)
        assert state.tier == "standard" and "M_OVERRIDE" in state.reasons and state.computed_tier == "watchlist"
        # The watchlist state it replaced is kept in the history, as the run had set it.
        left = s.scalars(select(TierHistory).where(TierHistory.customer_id == watch.customer_id)).all()
        assert [(h.tier, h.reasons, h.run_id) for h in left][-1] == (watch.tier, watch.reasons, watch.run_id)
    # The next run keeps the override and the computed tier beside it …
    recalc.recalculate(database, recalc.RunRequest(as_of=AS_OF, actor=audit.Actor("system", "t")))
    with database.session() as s:
        assert s.get(CustomerTier, watch.customer_id).tier == "standard"
    # … and once it expires, the computed tier is back.
    recalc.recalculate(
        database, recalc.RunRequest(as_of=business_today() + dt.timedelta(days=91), actor=audit.Actor("system", "t"))
    )
    with database.session() as s:
        state = s.get(CustomerTier, watch.customer_id)
        assert "M_OVERRIDE" not in state.reasons


def test_pages_need_the_right_role(client, login_as):
    login_as("account_manager")
    for path in ("/tiers/runs", "/tiers/policy", "/tiers/model", "/tiers/overrides"):
        assert client.get(path).status_code == 403, path


def test_model_page_shows_metrics(client, login_as, database):
    _seed(database, 400)
    login_as("risk_officer")
    html = client.get("/tiers/model").get_data(as_text=True)
    assert 'id="deviance-model"' in html and "decile-chart" in html
    # Both candidates, and why the one kept was kept.
    assert 'id="deviance-glm"' in html and 'id="deviance-hgb"' in html
    assert "Boosted trees replace the GLM only with a deviance at least 2.0% lower" in html


def test_run_page_says_whether_its_moves_reached_the_benefits(client, login_as, database):
    from sqlalchemy import update

    from crm.jobs import moves
    from crm.models import TierMoveBatch

    _seed(database)
    login_as("risk_officer")
    with database.session() as s:
        run_id = s.scalar(select(TierRun.id).where(TierRun.mode == "publish").order_by(TierRun.id.desc()))
    page = client.get(f"/tiers/runs/{run_id}").get_data(as_text=True)
    assert "Benefits: every move delivered." in page
    with database.transaction() as s:  # the delivery met a failure: the batches wait, with its reason
        s.execute(
            update(TierMoveBatch)
            .where(TierMoveBatch.run_id == run_id)
            .values(delivered_at=None, error="RuntimeError: the catalogue is broken")
        )
    page = client.get(f"/tiers/runs/{run_id}").get_data(as_text=True)
    assert "Benefits: 150 moves waiting to be delivered" in page and "the catalogue is broken" in page
    assert moves.deliver(database).moves == 150
    assert "Benefits: every move delivered." in client.get(f"/tiers/runs/{run_id}").get_data(as_text=True)
