"""Results by customer source (客户来源) and a customer's referral tree (转介绍), hand-computed."""

from __future__ import annotations

import re

import pytest

from crm.workspace.referrals import brought_in, referral_tree
from crm.workspace.snapshots import figures, take_snapshot
from tests.conftest import AuthActions
from tests.factories import claim_row, customer_row, policy_row
from tests.workspace_helpers import ACTOR, AS_OF, load, set_tier


def _portfolio(database, tmp_path, mine: str, other: str) -> dict:
    root = customer_row(name="赵推荐", source="community_event", account_manager=mine)
    kid = customer_row(name="钱转介", source="referral", referred_by=root["customer_ref"], account_manager=mine)
    grandkid = customer_row(name="孙再转", source="referral", referred_by=kid["customer_ref"], account_manager=other)
    online = customer_row(name="李网销", source="online", account_manager=mine)
    policies = [
        policy_row(root["customer_ref"], start_date="2024-01-01", end_date="2044-01-01", annual_premium="10000.00"),
        policy_row(kid["customer_ref"], start_date="2025-03-01", end_date="2045-03-01", annual_premium="5000.00"),
        policy_row(grandkid["customer_ref"], start_date="2025-05-01", end_date="2045-05-01", annual_premium="2000.00"),
    ]
    claims = [
        claim_row(
            policies[1]["policy_no"],
            loss_date="2025-04-01",
            report_date="2025-04-02",
            status="paid",
            claimed_amount="1000.00",
            reserve_amount="0.00",
            paid_amount="1000.00",
        )
    ]
    ids = load(database, tmp_path, [root, kid, grandkid, online], policies, claims)
    set_tier(database, ids[root["customer_ref"]], "vip")
    return {
        name: ids[row["customer_ref"]]
        for name, row in (("root", root), ("kid", kid), ("grandkid", grandkid), ("online", online))
    } | {"grandkid_ref": grandkid["customer_ref"]}


def test_results_by_source(database, make_user, tmp_path):
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    _portfolio(database, tmp_path, mine, other)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    with database.session() as s:
        rows = {r["key"]: r for r in figures(s, "all")[1]["by_source"]}
    assert set(rows) == {"community_event", "referral", "online"}
    community, referral, online = rows["community_event"], rows["referral"], rows["online"]
    assert (community["customers"], community["vips"], community["new_premium"]) == (1, 1, 0.0)
    assert community["earned"] == pytest.approx(10000 * 547 / 365, abs=0.01)  # 2024-01-01 .. 2025-06-30
    assert (referral["customers"], referral["vips"], referral["new_premium"], referral["incurred"]) == (
        2,
        0,
        7000.0,
        1000.0,
    )
    earned = 5000 * 122 / 365 + 2000 * 61 / 365
    assert referral["earned"] == pytest.approx(earned, abs=0.01)
    assert referral["loss_ratio"] == pytest.approx(1000 / earned, rel=1e-4)
    assert (online["customers"], online["new_premium"], online["loss_ratio"]) == (1, 0.0, 0.0)


def test_referral_tree_with_the_premium_each_brought(database, make_user, tmp_path, client, login_as):
    mine_id, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    ids = _portfolio(database, tmp_path, mine, other)
    with database.session() as s:
        tree = referral_tree(s, ids["root"], AS_OF)
    assert [(r.customer_id, r.depth, str(r.premium)) for r in tree] == [
        (ids["root"], 0, "10000.00"),
        (ids["kid"], 1, "5000.00"),
        (ids["grandkid"], 2, "2000.00"),
    ]
    assert brought_in(tree) == 7000
    auth = AuthActions(client)
    auth.login(mine)
    html = client.get(f"/customers/{ids['root']}").get_data(as_text=True)
    panel = re.search(r'id="referral-tree".*?</ul>', html, re.S).group(0)
    assert "钱转介" in panel and "7,000.00" in panel
    assert ids["grandkid_ref"] in panel and "孙再转" not in panel  # another manager's customer: reference only
    auth.logout()
    login_as("account_manager")  # a third manager: not their customer at all
    assert client.get(f"/customers/{ids['root']}").status_code == 404
