"""The reconciliation walk: every row of every report, and every figure of the dashboard, against
independent SQL over the raw rows, to the cent (报表真实性: totals reconcile with the records)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import text

from crm.workspace.snapshots import figures, take_snapshot
from crm.workspace.tables import REPORTS, table
from tests.workspace_helpers import ACTOR, AS_OF, set_tier, two_portfolios

CENT = Decimal("0.01")
WS, WE, YS = "2022-07-02", "2025-07-01", "2025-01-01"  # the window [AS_OF - 1094, AS_OF + 1) and the year


def _cents(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _days(dialect: str, a: str, b: str) -> str:
    return f"(julianday({b}) - julianday({a}))" if dialect == "sqlite" else f"({b} - {a})"


def _date(dialect: str, day: str) -> str:
    return f"DATE '{day}'" if dialect == "postgresql" else f"'{day}'"


GROUPS = {
    "tier": "COALESCE(t.tier, 'unscored')",
    "product": "p.product_type",
    "city": "c.city",
    "manager": "CAST(COALESCE(c.account_manager_id, 0) AS VARCHAR(20))",
    "source": "c.source",
}


def _earned_sql(dialect: str, since: str, group: str) -> str:
    lo = f"CASE WHEN p.start_date > {_date(dialect, since)} THEN p.start_date ELSE {_date(dialect, since)} END"
    hi = f"CASE WHEN p.end_date < {_date(dialect, WE)} THEN p.end_date ELSE {_date(dialect, WE)} END"
    days = _days(dialect, lo, hi)
    return f"""SELECT {GROUPS[group]}, SUM(p.annual_premium * CASE WHEN {days} > 0 THEN {days} ELSE 0 END) / 365,
                      SUM(CASE WHEN p.end_date > :as_of THEN 1 ELSE 0 END)
               FROM policies p JOIN customers c ON c.id = p.customer_id
               LEFT JOIN customer_tiers t ON t.customer_id = c.id
               WHERE p.start_date <= :as_of AND p.voided_at IS NULL GROUP BY {GROUPS[group]}"""


def _incurred_sql(dialect: str, group: str) -> str:
    return f"""SELECT {GROUPS[group]}, SUM(l.paid_amount + l.reserve_amount), COUNT(*)
               FROM claims l JOIN policies p ON p.id = l.policy_id JOIN customers c ON c.id = l.customer_id
               LEFT JOIN customer_tiers t ON t.customer_id = c.id
               WHERE l.report_date <= :as_of AND l.loss_date >= {_date(dialect, WS)} AND l.loss_date <= :as_of
                 AND l.status NOT IN ('rejected', 'withdrawn') AND l.voided_at IS NULL AND p.voided_at IS NULL
               GROUP BY {GROUPS[group]}"""


def _query(database, sql: str) -> dict:
    with database.engine.connect() as conn:
        return {str(row[0]): row[1:] for row in conn.execute(text(sql), {"as_of": AS_OF})}


def _portfolio(database, make_user, tmp_path) -> dict:
    _, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, mine, other)
    set_tier(database, ids["a"], "vip")
    set_tier(database, ids["b"], "watchlist")
    set_tier(database, ids["c"], "standard")
    take_snapshot(database, AS_OF, "walk", ACTOR)
    return ids


def test_every_report_row_reconciles_with_independent_sql(database, make_user, tmp_path):
    _portfolio(database, make_user, tmp_path)
    d = database.dialect
    with database.session() as s:
        _, f = figures(s, "all")
    checked = set()
    for code in REPORTS:
        columns, rows, _total = table(f, code, {})
        checked.add(code)
        if code.startswith("loss_ratio_"):
            by = code.removeprefix("loss_ratio_")
            earned, incurred = _query(database, _earned_sql(d, WS, by)), _query(database, _incurred_sql(d, by))
            assert {r[0] for r in rows} == set(earned) | set(incurred)
            for key, in_force, earned_, claims, incurred_, _ratio in rows:
                e, n = earned.get(key, (0, 0))
                i, c = incurred.get(key, (0, 0))
                assert (_cents(earned_), _cents(incurred_), claims, in_force) == (_cents(e), _cents(i), c, n), (
                    code,
                    key,
                )
        elif code == "premium":
            earned = _query(database, _earned_sql(d, YS, "product"))
            in_force = _query(
                database,
                """SELECT product_type, COUNT(*), SUM(annual_premium) FROM policies
                WHERE start_date <= :as_of AND end_date > :as_of AND voided_at IS NULL GROUP BY product_type""",
            )
            for product, n, premium, earned_ytd, _unearned in rows:
                assert _cents(earned_ytd) == _cents(earned.get(product, (0,))[0]), product
                assert (n, _cents(premium)) == (
                    (in_force[product][0], _cents(in_force[product][1])) if product in in_force else (0, 0)
                ), product
        elif code == "pending_claims":
            pending = _query(
                database,
                """SELECT p.product_type, COUNT(*), SUM(l.reserve_amount)
                FROM claims l JOIN policies p ON p.id = l.policy_id WHERE l.report_date <= :as_of
                AND l.status IN ('reported', 'registered', 'under_review', 'approved') AND l.voided_at IS NULL
                AND p.voided_at IS NULL GROUP BY p.product_type""",
            )
            by_product: dict = {}
            for product, _band, count, reserve in rows:
                n, r = by_product.get(product, (0, Decimal(0)))
                by_product[product] = (n + count, r + _cents(reserve))
            assert by_product == {k: (v[0], _cents(v[1])) for k, v in pending.items()}
        elif code == "results_by_source":
            earned, incurred = (
                _query(database, _earned_sql(d, WS, "source")),
                _query(database, _incurred_sql(d, "source")),
            )
            customers = _query(
                database,
                """SELECT c.source, COUNT(*), SUM(CASE WHEN t.tier = 'vip' THEN 1 ELSE 0 END)
                FROM customers c LEFT JOIN customer_tiers t ON t.customer_id = c.id GROUP BY c.source""",
            )
            new = _query(
                database,
                f"""SELECT c.source, SUM(p.annual_premium) FROM policies p
                JOIN customers c ON c.id = p.customer_id WHERE p.start_date >= {_date(d, YS)}
                AND p.start_date <= :as_of AND p.voided_at IS NULL GROUP BY c.source""",
            )
            for key, n, vips, new_premium, earned_, incurred_, _ratio in rows:
                assert (n, vips) == tuple(customers[key]), key
                assert _cents(new_premium) == _cents(new.get(key, (0,))[0] or 0), key
                assert _cents(earned_) == _cents(earned.get(key, (0,))[0]), key
                assert _cents(incurred_) == _cents(incurred.get(key, (0,))[0]), key
        elif code == "benefits":
            uses = _query(
                database,
                """SELECT kind, SUM(CASE WHEN source = 'enrolment' THEN 0 ELSE 1 END), SUM(cost)
                FROM benefit_uses WHERE used_on >= '2025-01-01' AND used_on <= :as_of GROUP BY kind""",
            )
            assert {r[0]: (r[1], _cents(r[2])) for r in rows} == {k: (v[0], _cents(v[1])) for k, v in uses.items()}
        else:
            raise AssertionError(f"the walk does not know the report {code!r}: add its independent SQL")
    assert checked == set(REPORTS)


def test_every_dashboard_figure_reconciles_with_independent_sql(client, login_as, database, make_user, tmp_path):
    _portfolio(database, make_user, tmp_path)
    d = database.dialect
    login_as("admin")
    html = client.get("/dashboard").get_data(as_text=True)

    def tile(tile_id: str) -> str:
        return (
            re.search(
                rf'id="{tile_id}"><div class="card-body">\s*<div class="small text-muted">[^<]*</div>'
                rf'<div class="fs-4">([^<]*)</div>',
                html,
            )
            .group(1)
            .strip()
        )

    customers = _query(database, "SELECT 'all', COUNT(*) FROM customers")["all"][0]
    scored = _query(
        database,
        """SELECT 'all', COUNT(*), SUM(CASE WHEN tier = 'watchlist' THEN 1 ELSE 0 END)
                                 FROM customer_tiers""",
    )["all"]
    earned = sum(v[0] for v in _query(database, _earned_sql(d, WS, "product")).values())
    incurred = sum(v[0] for v in _query(database, _incurred_sql(d, "product")).values())
    large = _query(
        database,
        """SELECT 'all', COUNT(*) FROM claims l JOIN policies p ON p.id = l.policy_id
        WHERE l.claimed_amount > 50000 AND l.report_date <= :as_of AND l.report_date > '2025-05-31'
        AND l.voided_at IS NULL AND p.voided_at IS NULL""",
    )["all"][0]
    assert tile("tile-customers") == str(customers)
    assert tile("tile-watchlist") == f"{Decimal(scored[1]) * 100 / scored[0]:.2f}%"
    assert tile("tile-loss-ratio") == f"{Decimal(incurred) * 100 / Decimal(earned):.2f}%"
    assert tile("tile-large-claims") == str(large)
    assert tile("tile-benefit-use") == "—" and tile("tile-benefit-cost") == "—"  # nobody is entitled yet
