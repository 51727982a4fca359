"""Early warnings: admins version the thresholds (audited); a snapshot records the breaches; each
role's dashboard shows the breaches it owns."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from sqlalchemy import select

from crm.models import AuditEvent
from crm.workspace.snapshots import figures, take_snapshot
from tests.conftest import csrf_token
from tests.workspace_helpers import ACTOR, AS_OF, set_tier, two_portfolios

FORM = {
    "watchlist_share": "10",
    "loss_ratio_by_tier": "100",
    "overdue_cases": "10",
    "benefit_cost_ratio": "5",
    "pending_over_180": "20",
}


def test_admin_saves_a_new_version_of_the_thresholds(client, login_as, database):
    login_as("admin")
    token = csrf_token(client, "/workspace/warnings")
    bad = client.post("/workspace/warnings", data=FORM | {"watchlist_share": "150", "csrf_token": token})
    assert bad.status_code == 422 and "is-invalid" in bad.get_data(as_text=True)
    ok = client.post("/workspace/warnings", data=FORM | {"watchlist_share": "20", "csrf_token": token})
    assert ok.status_code == 303
    page = client.get("/workspace/warnings").get_data(as_text=True)
    assert re.search(r'name="watchlist_share"[^>]*value="20(\.00)?"', page)
    with database.session() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "warnings.thresholds"))
    assert event is not None and json.loads(event.after)["watchlist_share"] == "0.2"


def test_only_admins_set_thresholds(client, login_as):
    login_as("risk_officer")
    assert client.get("/workspace/warnings").status_code == 403


def test_a_breach_is_recorded_and_shown_to_its_owners(client, login_as, database, make_user, tmp_path, auth):
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, mine, other)
    set_tier(database, ids["a"], "watchlist")  # 1 of 4 scored: a 25% watchlist share
    for key in ("b", "c", "d"):
        set_tier(database, ids[key], "standard")
    take_snapshot(database, AS_OF, "t1", ACTOR)
    with database.session() as s:
        breaches = {b["code"]: b for b in figures(s, "all")[1]["early_warnings"]}
    assert breaches["watchlist_share"]["value"] == 0.25 and breaches["watchlist_share"]["threshold"] == "0.10"
    assert "pending_over_180" not in breaches
    login_as("risk_officer")
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'data-code="watchlist_share"' in html and "25.00%" in html.split('id="early-warnings"')[1]
    auth.logout()
    login_as("claims_reviewer")  # not an owner of the watchlist share
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'data-code="watchlist_share"' not in html


def test_raising_the_threshold_clears_the_breach(login_as, database, make_user, tmp_path):
    from crm.workspace import warnings

    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, mine, other)
    set_tier(database, ids["a"], "watchlist")
    with database.transaction() as s:
        defaults = warnings.current(s)[1]
        warnings.save(s, ACTOR, defaults | {"watchlist_share": Decimal("1")})
    take_snapshot(database, AS_OF, "t2", ACTOR)
    with database.session() as s:
        _, f = figures(s, "all")
    assert all(b["code"] != "watchlist_share" for b in f["early_warnings"])
    assert f["warning_thresholds_version"] is not None
