"""Report figures, computed from the raw rows once per snapshot (never per page view).

One pass over the portfolio, one range of customer ids at a time, adds every policy's and
claim's contribution into small "cubes" keyed by (manager, tier, city, product); each report
is then a group-by of a cube. The figures are kept per scope: 'all' and 'manager:ID' (an
account manager's reports and dashboard only ever read their own scope).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from crm.jobs.frames import id_ranges
from crm.workspace import metrics as m
from crm.workspace import statutory
from segmentation.frames import day_number, to_day_numbers

PARTITION = 200_000
KEYS = ["manager", "tier", "city", "product", "source"]
POLICY_SUMS = ["earned", "earned_ytd", "new_premium", "lt_premium", "lt_policies", "p13_due", "p13_kept", "in_force"]
EMPTY = {  # the columns of each cube, for a portfolio without customers
    "policies": KEYS + POLICY_SUMS,
    "claims": KEYS + ["incurred", "claims", "large"],
    "tiers": ["manager", "tier", "source", "n"],
    "benefits": ["manager", "tier", "entitled", "users", "uses", "cost", "earned_entitled"],
    "benefit_kinds": ["manager", "kind", "uses", "cost"],
}

CUSTOMERS_SQL = """SELECT c.id AS customer_id, COALESCE(c.account_manager_id, 0) AS manager, c.city, c.source,
                          COALESCE(t.tier, 'unscored') AS tier
                   FROM customers c LEFT JOIN customer_tiers t ON t.customer_id = c.id
                   WHERE c.id >= :lo AND c.id < :hi"""
POLICIES_SQL = """SELECT customer_id, product_type AS product, start_date, end_date, term_years, payment_mode,
                         CAST(annual_premium AS DOUBLE PRECISION) AS premium
                  FROM policies WHERE customer_id >= :lo AND customer_id < :hi AND start_date <= :as_of
                    AND voided_at IS NULL"""
CLAIMS_SQL = """SELECT c.customer_id, p.product_type AS product, c.loss_date, c.report_date, c.status,
                       CAST(c.paid_amount AS DOUBLE PRECISION) AS paid,
                       CAST(c.reserve_amount AS DOUBLE PRECISION) AS reserve,
                       CAST(c.claimed_amount AS DOUBLE PRECISION) AS claimed
                FROM claims c JOIN policies p ON p.id = c.policy_id
                WHERE c.customer_id >= :lo AND c.customer_id < :hi AND c.report_date <= :as_of
                  AND c.voided_at IS NULL AND p.voided_at IS NULL"""
BENEFIT_USES_SQL = """SELECT customer_id, kind, source AS recorded_by, CAST(cost AS DOUBLE PRECISION) AS cost FROM benefit_uses
                      WHERE customer_id >= :lo AND customer_id < :hi AND used_on >= :ys AND used_on <= :as_of"""
ENTITLED_SQL = """SELECT DISTINCT customer_id FROM entitlement_entries
                  WHERE customer_id >= :lo AND customer_id < :hi AND entry_type IN ('grant', 'renew')
                    AND period_start <= :as_of AND period_end > :ys"""


def _read(conn: Connection, sql: str, params: dict) -> pd.DataFrame:
    result = conn.execute(text(sql), params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _days(frame: pd.DataFrame, column: str) -> np.ndarray:
    return to_day_numbers(frame[column].astype(str)) if len(frame) else np.zeros(0, dtype=np.int64)


def _partition(conn: Connection, lo: int, hi: int, as_of: dt.date) -> dict[str, pd.DataFrame]:
    """The contributions of customers lo <= id < hi, grouped (sums are additive over partitions)."""
    params = {"lo": lo, "hi": hi, "as_of": as_of}
    customers = _read(conn, CUSTOMERS_SQL, params).set_index("customer_id")
    d = day_number(as_of)
    ws, we = (day_number(x) for x in m.window(as_of))
    ys, ye = (day_number(x) for x in m.year_to_date(as_of))

    pol = _read(conn, POLICIES_SQL, params)
    start, end = _days(pol, "start_date"), _days(pol, "end_date")
    premium = pol["premium"].to_numpy(dtype=np.float64)
    pol = pol.join(customers, on="customer_id")
    pol["earned"] = m.earned_premium_1_365(premium, start, end, ws, we)
    pol["earned_ytd"] = m.earned_premium_1_365(premium, start, end, ys, ye)
    pol["new_premium"] = np.where(start >= ys, premium, 0.0)  # the query holds no policy starting after as_of
    new_lt = m.is_new_long_term_business(pol["term_years"], pol["payment_mode"], start, end, ys, d)
    pol["lt_premium"] = np.where(new_lt, premium, 0.0)
    pol["lt_policies"] = new_lt.astype(np.int64)
    due, kept = m.persistency_cohort(pol["start_date"].astype(str), pol["end_date"].astype(str), as_of)
    long_term = m.is_long_term_regular(pol["term_years"], pol["payment_mode"])
    pol["p13_due"] = np.where(long_term & due, premium, 0.0)
    pol["p13_kept"] = np.where(long_term & kept, premium, 0.0)
    pol["in_force"] = (end > d).astype(np.int64)
    pcube = pol.groupby(KEYS)[POLICY_SUMS].sum()

    cl = _read(conn, CLAIMS_SQL, params).join(customers, on="customer_id")
    loss, report = _days(cl, "loss_date"), _days(cl, "report_date")
    counting = (~cl["status"].isin(m.EXCLUDED_CLAIM_STATUSES) & (loss >= ws) & (loss < we)).to_numpy()
    cl["incurred"] = np.where(counting, cl["paid"] + cl["reserve"], 0.0)
    cl["claims"] = counting.astype(np.int64)
    cl["large"] = ((cl["claimed"] > float(m.LARGE_CLAIM_AMOUNT)) & (report > d - m.LARGE_CLAIM_RECENT_DAYS)).astype(
        np.int64
    )
    ccube = cl.groupby(KEYS)[["incurred", "claims", "large"]].sum()

    tiers = customers.assign(n=1).groupby(["manager", "tier", "source"])[["n"]].sum()
    benefits, kinds = _benefits(conn, params | {"ys": m.year_to_date(as_of)[0]}, customers, pol)
    return {"policies": pcube, "claims": ccube, "tiers": tiers, "benefits": benefits, "benefit_kinds": kinds}


def _benefits(conn: Connection, params: dict, customers: pd.DataFrame, pol: pd.DataFrame):
    """Utilisation and cost of benefits this year, against the earned premium of the entitled."""
    uses = _read(conn, BENEFIT_USES_SQL, params).join(customers, on="customer_id")
    # A use is a benefit the customer took; the automatic assistance membership costs, but is not one.
    uses["use"] = (uses["recorded_by"] != m.AUTOMATIC_BENEFIT_SOURCE).astype(np.int64)
    taken = uses[uses["use"] == 1]
    entitled = _read(conn, ENTITLED_SQL, params)["customer_id"].to_numpy()
    frame = customers.copy()
    frame["entitled"] = frame.index.isin(entitled).astype(np.int64)
    frame["users"] = frame.index.isin(taken["customer_id"].unique()).astype(np.int64)
    frame["uses"] = taken.groupby("customer_id").size().reindex(frame.index, fill_value=0)
    frame["cost"] = uses.groupby("customer_id")["cost"].sum().reindex(frame.index, fill_value=0.0)
    earned = pol.groupby("customer_id")["earned_ytd"].sum().reindex(frame.index, fill_value=0.0)
    frame["earned_entitled"] = np.where(frame["entitled"] == 1, earned, 0.0)
    cube = frame.groupby(["manager", "tier"])[["entitled", "users", "uses", "cost", "earned_entitled"]].sum()
    kinds = uses.rename(columns={"use": "uses"}).groupby(["manager", "kind"])[["uses", "cost"]].sum()
    return cube, kinds


def _add(total: pd.DataFrame | None, part: pd.DataFrame) -> pd.DataFrame:
    return part if total is None else total.add(part, fill_value=0)


def compute_cubes(conn: Connection, as_of: dt.date) -> dict:
    """Every cube over the whole portfolio (partition by partition, memory bounded), and the two
    contract reports by manager, exact (crm.workspace.statutory: one implementation each)."""
    cubes: dict[str, pd.DataFrame | None] = dict.fromkeys(EMPTY)
    for lo, hi in id_ranges(conn, PARTITION):
        for name, part in _partition(conn, lo, hi, as_of).items():
            cubes[name] = _add(cubes[name], part)
    out: dict = {k: (pd.DataFrame(columns=EMPTY[k]) if v is None else v.reset_index()) for k, v in cubes.items()}
    out["pending_claims"] = statutory.pending_by_manager(conn, as_of)
    out["premium"] = statutory.premium_by_manager(conn, as_of)
    return out


def _money(x) -> float:
    return round(float(x), 2)


def _loss_ratio_rows(pol: pd.DataFrame, cl: pd.DataFrame, by: str) -> list[dict]:
    left = pol.groupby(by)[["earned", "in_force"]].sum()
    right = cl.groupby(by)[["incurred", "claims"]].sum()
    both = left.join(right, how="outer").fillna(0)
    return [
        {
            "key": str(key),
            "earned": _money(r.earned),
            "incurred": _money(r.incurred),
            "claims": int(r.claims),
            "policies_in_force": int(r.in_force),
            "loss_ratio": m.ratio_or_none(r.incurred, r.earned),
        }
        for key, r in both.sort_index().iterrows()
    ]


def scope_figures(cubes: dict[str, pd.DataFrame], as_of: dt.date, manager: int | None = None) -> dict:
    """The reports of one scope: the whole portfolio (manager None) or one manager's."""
    pol, cl, tiers, ben, kinds = (cubes[k] for k in EMPTY)
    pending, premium = cubes["pending_claims"], cubes["premium"]
    if manager is not None:
        pol, cl, tiers, ben, kinds = (f[f["manager"] == manager] for f in (pol, cl, tiers, ben, kinds))
        pending = {k: v for k, v in pending.items() if k[0] == manager}
        premium = {k: v for k, v in premium.items() if k[0] == manager}
    tier_counts = {str(k): int(v) for k, v in tiers.groupby("tier")["n"].sum().items()}
    scored = sum(v for k, v in tier_counts.items() if k != "unscored")
    earned, incurred = float(pol["earned"].sum()), float(cl["incurred"].sum())
    lt_by_manager = pol.groupby("manager")[["lt_premium", "lt_policies", "p13_due", "p13_kept"]].sum()
    figures = {
        "as_of": as_of.isoformat(),
        "customers": int(tiers["n"].sum()),
        "unassigned_vips": int(tiers[(tiers["manager"] == 0) & (tiers["tier"] == "vip")]["n"].sum()),
        "tiers": tier_counts,
        "loss_ratio": {by: _loss_ratio_rows(pol, cl, by) for by in ("tier", "product", "city", "manager")},
        "by_source": _source_rows(pol, cl, tiers),
        "totals": {
            "earned": _money(earned),
            "incurred": _money(incurred),
            "claims": int(cl["claims"].sum()),
            "loss_ratio": m.ratio_or_none(incurred, earned),
        },
        "pending": _pending_rows(pending),
        "pending_total": {
            "count": sum(n for n, _ in pending.values()),
            "reserve": _money(sum((r for _, r in pending.values()), Decimal(0))),
        },
        "premium": _premium_rows(premium),
        "long_term_new": {
            "year": as_of.year,
            "premium": _money(pol["lt_premium"].sum()),
            "policies": int(pol["lt_policies"].sum()),
            "by_manager": {str(int(k)): _money(r.lt_premium) for k, r in lt_by_manager.iterrows()},
        },
        "persistency_13m": {
            "due": _money(pol["p13_due"].sum()),
            "kept": _money(pol["p13_kept"].sum()),
            "by_manager": {
                str(int(k)): [_money(r.p13_due), _money(r.p13_kept)] for k, r in lt_by_manager.iterrows() if r.p13_due
            },
        },
        "benefits": _benefit_figures(ben, kinds),
        "warnings": {
            "watchlist_share": (tier_counts.get("watchlist", 0) / scored) if scored else None,
            "large_claims": int(cl["large"].sum()),
        },
    }
    if manager is None:  # the contract reports by account manager, shown only when asked
        figures["pending_by_manager"] = [
            {"manager": str(k[0]), "product": k[1], "band": k[2], "count": n, "reserve": _money(r)}
            for k, (n, r) in sorted(pending.items(), key=_manager_band_order)
        ]
        figures["premium_by_manager"] = [
            {"manager": str(k[0])} | row for k, values in sorted(premium.items()) for row in _premium_rows({k: values})
        ]
    return figures


def _manager_band_order(item) -> tuple:
    (manager, product, band), _ = item
    return manager, product, [label for _, _, label in m.PENDING_BANDS].index(band)


def _source_rows(pol: pd.DataFrame, cl: pd.DataFrame, tiers: pd.DataFrame) -> list[dict]:
    """Results by customer source (客户来源): customers, VIPs, new premium this year, loss ratio."""
    people = tiers.assign(vips=np.where(tiers["tier"] == "vip", tiers["n"], 0)).groupby("source")[["n", "vips"]].sum()
    money = (
        pol.groupby("source")[["new_premium", "earned"]]
        .sum()
        .join(cl.groupby("source")[["incurred"]].sum(), how="outer")
    )
    both = people.join(money, how="outer").fillna(0)
    return [
        {
            "key": str(key),
            "customers": int(r.n),
            "vips": int(r.vips),
            "new_premium": _money(r.new_premium),
            "earned": _money(r.earned),
            "incurred": _money(r.incurred),
            "loss_ratio": m.ratio_or_none(r.incurred, r.earned),
        }
        for key, r in both.sort_index().iterrows()
    ]


def _pending_rows(pending: dict) -> list[dict]:
    """One row per product type and age band held (summed over managers), the bands in their order."""
    totals: dict[tuple[str, str], list] = {}
    for (_manager, product, band), (count, reserve) in pending.items():
        total = totals.setdefault((product, band), [0, Decimal(0)])
        total[0] += count
        total[1] += reserve
    band_order = {label: i for i, (_, _, label) in enumerate(m.PENDING_BANDS)}
    return [
        {"product": product, "band": band, "count": n, "reserve": _money(r)}
        for (product, band), (n, r) in sorted(totals.items(), key=lambda kv: (kv[0][0], band_order[kv[0][1]]))
    ]


def _premium_rows(premium: dict) -> list[dict]:
    """The premium report (in force, earned this year, unearned) per product type held."""
    totals: dict[str, list[int]] = {}
    for (_manager, product), values in premium.items():
        totals[product] = [a + b for a, b in zip(totals.get(product, [0, 0, 0, 0]), values)]
    return [
        {k: (float(v) if isinstance(v, Decimal) else v) for k, v in statutory.premium_row(p, s).items()}
        for p, s in sorted(totals.items())
    ]


def _benefit_figures(ben: pd.DataFrame, kinds: pd.DataFrame) -> dict:
    entitled, users, cost = int(ben["entitled"].sum()), int(ben["users"].sum()), float(ben["cost"].sum())
    earned = float(ben["earned_entitled"].sum())
    return {
        "entitled": entitled,
        "users": users,
        "uses": int(ben["uses"].sum()),
        "cost": _money(cost),
        "earned_entitled": _money(earned),
        "utilisation": users / entitled if entitled else None,
        "cost_ratio": cost / earned if earned else None,
        "by_kind": [
            {"key": str(k), "uses": int(r.uses), "cost": _money(r.cost)}
            for k, r in kinds.groupby("kind")[["uses", "cost"]].sum().sort_index().iterrows()
        ],
    }


def all_scopes(cubes: dict[str, pd.DataFrame], as_of: dt.date) -> dict[str, dict]:
    """{'all': …, 'manager:ID': …} for every manager with customers."""
    scopes = {"all": scope_figures(cubes, as_of)}
    for manager in sorted(set(cubes["tiers"]["manager"].astype(int))):
        if manager:
            scopes[f"manager:{manager}"] = scope_figures(cubes, as_of, manager)
    return scopes
