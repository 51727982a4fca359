"""Reports: every total reconciles with independent SQL over the raw rows; CSV; dashboard."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from sqlalchemy import text

from crm.workspace.snapshots import figures, take_snapshot
from tests.workspace_helpers import ACTOR, AS_OF, two_portfolios


def _days_sql(dialect: str, a: str, b: str) -> str:
    """b - a in days, per database (the definitions are checked against each database's own arithmetic)."""
    return f"(julianday({b}) - julianday({a}))" if dialect == "sqlite" else f"({b} - {a})"


def _independent(database, as_of):
    d = database.dialect
    ws = "DATE '2022-07-02'" if d == "postgresql" else "'2022-07-02'"  # as_of - 1094 days
    we = "DATE '2025-07-01'" if d == "postgresql" else "'2025-07-01'"
    ys = "DATE '2025-01-01'" if d == "postgresql" else "'2025-01-01'"
    lo = lambda s: f"CASE WHEN start_date > {s} THEN start_date ELSE {s} END"  # noqa: E731
    hi = f"CASE WHEN end_date < {we} THEN end_date ELSE {we} END"
    earned = f"""SELECT SUM(annual_premium * CASE WHEN {_days_sql(d, lo(ws), hi)} > 0
                 THEN {_days_sql(d, lo(ws), hi)} ELSE 0 END / 365.0) FROM policies WHERE start_date <= :as_of"""
    earned_ytd = f"""SELECT SUM(annual_premium * CASE WHEN {_days_sql(d, lo(ys), hi)} > 0
                 THEN {_days_sql(d, lo(ys), hi)} ELSE 0 END / 365.0) FROM policies WHERE start_date <= :as_of"""
    incurred = f"""SELECT SUM(paid_amount + reserve_amount), COUNT(*) FROM claims WHERE report_date <= :as_of
                   AND loss_date >= {ws} AND loss_date <= :as_of AND status NOT IN ('rejected', 'withdrawn')"""
    pending = """SELECT COUNT(*), SUM(reserve_amount) FROM claims WHERE report_date <= :as_of
                 AND status IN ('reported', 'registered', 'under_review', 'approved')"""
    with database.engine.connect() as conn:
        p = {"as_of": as_of}
        return {
            "earned": float(conn.execute(text(earned), p).scalar()),
            "earned_ytd": float(conn.execute(text(earned_ytd), p).scalar()),
            "incurred": conn.execute(text(incurred), p).one(),
            "pending": conn.execute(text(pending), p).one(),
        }


def test_report_totals_reconcile_with_independent_sql(database, make_user, tmp_path):
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    two_portfolios(database, tmp_path, mine, other)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    with database.session() as s:
        _, f = figures(s, "all")
    raw = _independent(database, AS_OF)
    assert abs(f["totals"]["earned"] - raw["earned"]) < 0.01
    assert abs(sum(r["earned_premium_ytd"] for r in f["premium"]) - raw["earned_ytd"]) < 0.01
    assert Decimal(str(f["totals"]["incurred"])) == Decimal(raw["incurred"][0]).quantize(Decimal("0.01"))
    assert f["totals"]["claims"] == raw["incurred"][1] == 3  # the rejected one and the 2021 one do not count
    assert f["pending_total"]["count"] == raw["pending"][0] == 2
    assert Decimal(str(f["pending_total"]["reserve"])) == Decimal(raw["pending"][1]) == Decimal("61500.25")
    for by in ("tier", "product", "city", "manager"):  # every breakdown adds up to the same totals
        rows = f["loss_ratio"][by]
        assert abs(sum(r["earned"] for r in rows) - raw["earned"]) < 0.05
        assert abs(sum(r["incurred"] for r in rows) - float(raw["incurred"][0])) < 0.005
    # Hand-checked: policy A (65,540/yr) covered 2025-02-01..2025-06-30 = 150 days of the window.
    life = next(r for r in f["premium"] if r["product_type"] == "life")
    assert abs(life["earned_premium_ytd"] - (65540 * 150 / 365 + 12000 * 181 / 365)) < 0.01


def test_manager_scope_holds_only_their_customers(database, make_user, tmp_path):
    mine_id, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    two_portfolios(database, tmp_path, mine, other)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    with database.session() as s:
        _, f = figures(s, f"manager:{mine_id}")
    assert f["customers"] == 2
    assert {r["key"] for r in f["loss_ratio"]["city"]} == {"北京", "上海"}
    assert [r["key"] for r in f["loss_ratio"]["manager"]] == [str(mine_id)]
    assert f["pending_total"] == {"count": 1, "reserve": 60000.0}
    assert f["warnings"]["large_claims"] == 1  # 70,000 claimed, reported 2025-06-02
    assert f["long_term_new"]["premium"] == 65540.0


def test_reports_page_and_csv(client, login_as, database, tmp_path, make_user):
    login_as("risk_officer")
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    assert "No report figures yet" in client.get("/reports").get_data(as_text=True)
    assert client.get("/reports/loss_ratio_tier.csv").status_code == 404
    two_portfolios(database, tmp_path, mine, other)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    html = client.get("/reports").get_data(as_text=True)
    assert "Loss ratio by city" in html and "上海" in html
    for report in (
        "loss_ratio_tier",
        "loss_ratio_product",
        "loss_ratio_city",
        "loss_ratio_manager",
        "pending_claims",
        "premium",
        "benefits",
    ):
        response = client.get(f"/reports/{report}.csv")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        assert rows[-1][0] == "total"
    pending = list(
        csv.reader(io.StringIO(client.get("/reports/pending_claims.csv").get_data(as_text=True).lstrip("\ufeff")))
    )
    assert pending[-1] == ["total", "", "2", "61500.25"]
    assert client.get("/reports/nothing.csv").status_code == 404


def test_definitions_page_in_both_languages(client, login_as):
    login_as("underwriter")
    html = client.get("/reports/definitions").get_data(as_text=True)
    assert "1/365" in html and "未决赔案" in html and "赔付率" in html and "65.54%" in html


def test_dashboard_with_and_without_data(client, login_as, database, tmp_path, make_user):
    admin_id, _ = login_as("admin")
    html = client.get("/dashboard").get_data(as_text=True)
    assert client.get("/dashboard").status_code == 200 and "No report figures yet" in html
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    two_portfolios(database, tmp_path, mine, other)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    html = client.get("/dashboard").get_data(as_text=True)
    assert "No report figures yet" not in html
    assert 'data-kind="doughnut"' in html and 'id="tile-claims-queue"' in html
    assert "chart.umd.min.js" in html and "<script>" not in html


def test_pending_claims_report_sums_over_managers_and_orders_the_bands(database, make_user, tmp_path):
    from tests.factories import claim_row, customer_row, policy_row
    from tests.workspace_helpers import load

    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    a, b = customer_row(account_manager=mine), customer_row(account_manager=other)
    pa, pb = policy_row(a["customer_ref"]), policy_row(b["customer_ref"])

    def pending(p, reported, reserve):
        return claim_row(
            p["policy_no"],
            loss_date="2024-01-01",
            report_date=reported,
            status="reported",
            reserve_amount=reserve,
            paid_amount="0.00",
        )

    load(
        database,
        tmp_path,
        [a, b],
        [pa, pb],
        [
            pending(pa, "2025-06-20", "100.00"),
            pending(pb, "2025-06-25", "50.00"),  # 0-30, one per manager
            pending(pa, "2024-12-01", "10.00"),
            pending(pb, "2025-03-01", "20.00"),  # 181+, 91-180
            pending(pa, "2025-05-01", "30.00"),
        ],
    )  # 31-90
    take_snapshot(database, AS_OF, "t1", ACTOR)
    with database.session() as s:
        _, f = figures(s, "all")
    assert [(r["product"], r["band"], r["count"], r["reserve"]) for r in f["pending"]] == [
        ("life", "0-30", 2, 150.0),
        ("life", "31-90", 1, 30.0),
        ("life", "91-180", 1, 20.0),
        ("life", "181+", 1, 10.0),
    ]


def test_contract_reports_by_account_manager_only_when_asked(client, login_as, database, make_user, tmp_path):
    login_as("risk_officer")
    _, mine = make_user("account_manager", full_name="甲经理")
    _, other = make_user("account_manager", full_name="乙经理")
    two_portfolios(database, tmp_path, mine, other)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    plain = list(csv.reader(io.StringIO(client.get("/reports/premium.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert plain[0][0] == "product" and "甲经理" not in str(plain)
    split = list(
        csv.reader(
            io.StringIO(client.get("/reports/pending_claims.csv?by=manager").get_data(as_text=True).lstrip("\ufeff"))
        )
    )
    assert split[0][0] == "manager" and {r[0] for r in split[1:-1]} == {"甲经理", "乙经理"}
    assert split[-1][-2:] == ["2", "61500.25"]  # the same totals as the whole portfolio's
    assert "乙经理" in client.get("/reports?by=manager").get_data(as_text=True)


DASHBOARD_DEFINITIONS = {  # each dashboard tile and the definition it shows
    "tile-customers": "customers",
    "tile-watchlist": "watchlist_share",
    "tile-loss-ratio": "loss_ratio",
    "tile-large-claims": "large_claims",
    "tile-follow-ups": "follow_ups_due",
    "tile-uw-queue": "queue_counts",
    "tile-claims-queue": "queue_counts",
    "tile-overdue": "overdue_cases",
    "tile-benefit-use": "benefit_utilisation",
    "tile-benefit-cost": "benefit_cost_ratio",
    "tile-unassigned": "unassigned_vips",
}


def test_every_figure_on_the_dashboard_has_its_definition(client, login_as, database, tmp_path, make_user):
    import re

    login_as("admin")
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    two_portfolios(database, tmp_path, mine, other)
    take_snapshot(database, AS_OF, "t1", ACTOR)
    tiles = set(
        re.findall(r'class="card h-100 tile" id="(tile-[a-z-]+)"', client.get("/dashboard").get_data(as_text=True))
    )
    assert tiles == set(DASHBOARD_DEFINITIONS), "a tile without a definition: add it to DEFINITIONS and here"
    page = client.get("/reports/definitions").get_data(as_text=True)
    for code in set(DASHBOARD_DEFINITIONS.values()) | {
        "premium_in_force",
        "unearned_premium",
        "pending_claims",
        "results_by_source",
        "persistency_13m",
        "time_progress",
        "face_to_face_rate",
        "effective_visits",
    }:
        assert f'id="def-{code}"' in page, code
