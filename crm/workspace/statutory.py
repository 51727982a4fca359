"""The two reports the regulator's core-system rules name, straight from the raw rows.

``pending_claims`` (未决赔案) and ``premium`` (in force, earned this year and the unearned
premium reserve by the 1/365 method, 未到期责任准备金), with the columns and definitions of
``shared/CONTRACT.md`` (`crm reports export NAME FILE.csv`). Money is summed exactly: every
amount becomes integer cents × days, and only the total is divided by 365 and rounded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select

from crm.models import Claim, Customer, Policy
from crm.validators import PRODUCT_TYPES
from crm.workspace.metrics import PENDING_BANDS, PENDING_STATUSES, pending_band

DAYS_PER_YEAR = 365
CHUNK = 200_000
CENT = Decimal("0.01")

COLUMNS = {
    "pending_claims": ["product_type", "age_band", "claims", "reserve"],
    "premium": [
        "product_type",
        "policies_in_force",
        "annual_premium_in_force",
        "earned_premium_ytd",
        "unearned_premium",
    ],
}


def _money(cents_times_days: int, divisor: int = DAYS_PER_YEAR) -> Decimal:
    """Σ(cents × days) → yuan, rounded half-up to the cent once, at the end."""
    return (Decimal(cents_times_days) / Decimal(divisor * 100)).quantize(CENT, rounding=ROUND_HALF_UP)


def pending_claims(conn: Connection, as_of: dt.date) -> list[dict]:
    """Claims pending at ``as_of`` per product type and age band (days since the report date).

    Pending: reported on or before ``as_of`` and in a status that is not final; claims and
    policies that were voided are left out. Every product type × band is a row, zeros included.
    """
    totals = {(p, band): [0, Decimal(0)] for p in PRODUCT_TYPES for _, _, band in PENDING_BANDS}
    for (_manager, product, band), (count, reserve) in pending_by_manager(conn, as_of).items():
        totals[(product, band)][0] += count
        totals[(product, band)][1] += reserve
    return [
        {
            "product_type": p,
            "age_band": band,
            "claims": totals[(p, band)][0],
            "reserve": totals[(p, band)][1].quantize(CENT),
        }
        for p in PRODUCT_TYPES
        for _, _, band in PENDING_BANDS
    ]


def pending_by_manager(conn: Connection, as_of: dt.date) -> dict[tuple[int, str, str], tuple[int, Decimal]]:
    """{(account manager id or 0, product type, age band): (claims, reserve)}, pending claims only."""
    query = (
        select(
            Customer.account_manager_id,
            Policy.product_type,
            Claim.report_date,
            func.count(),
            func.sum(Claim.reserve_amount),
        )
        .select_from(Claim)
        .join(Policy, Policy.id == Claim.policy_id)
        .join(Customer, Customer.id == Claim.customer_id)
        .where(
            Claim.report_date <= as_of,
            Claim.status.in_(PENDING_STATUSES),
            Claim.voided_at.is_(None),
            Policy.voided_at.is_(None),
        )
        .group_by(Customer.account_manager_id, Policy.product_type, Claim.report_date)
    )
    rows = conn.execute(query).all()
    out: dict[tuple[int, str, str], tuple[int, Decimal]] = {}
    if rows:
        ages = np.array([(as_of - _date(r[2])).days for r in rows])
        for (manager, product, _, count, reserve), band in zip(rows, pending_band(ages)):
            key = (int(manager or 0), product, str(band))
            n, amount = out.get(key, (0, Decimal(0)))
            out[key] = (n + int(count), amount + Decimal(reserve or 0))
    return out


def premium(conn: Connection, as_of: dt.date) -> list[dict]:
    """Per product type: policies and annual premium in force at ``as_of``, the premium earned
    from 1 January to ``as_of`` (1/365), and the unearned premium of the current policy years."""
    sums = {p: [0, 0, 0, 0] for p in PRODUCT_TYPES}
    for (_manager, product), values in premium_by_manager(conn, as_of).items():
        sums[product] = [a + b for a, b in zip(sums[product], values)]
    return [premium_row(p, s) for p, s in sums.items()]


def premium_row(product: str, sums) -> dict:
    """A row of the premium report from (in force, Σ cents in force, Σ cents × days earned,
    Σ cents × days unearned)."""
    return {
        "product_type": product,
        "policies_in_force": int(sums[0]),
        "annual_premium_in_force": _money(sums[1], 1),
        "earned_premium_ytd": _money(sums[2]),
        "unearned_premium": _money(sums[3]),
    }


def premium_by_manager(conn: Connection, as_of: dt.date) -> dict[tuple[int, str], list[int]]:
    """{(account manager id or 0, product type): [in force, Σ cents in force, Σ cents × days earned
    this year, Σ cents × days unearned]}: exact integers, divided only when shown."""
    year_start = dt.date(as_of.year, 1, 1)
    d, ys = _day_number(as_of), _day_number(year_start)
    sums: dict[tuple[int, str], list[int]] = {}
    for frame in _policies(conn, as_of, year_start):
        start, end = _day_numbers(frame["start_date"]), _day_numbers(frame["end_date"])
        cents = frame["cents"].to_numpy(dtype=np.int64)
        earned_days = np.clip(np.minimum(end, d + 1) - np.maximum(start, ys), 0, None)
        in_force = (start <= d) & (d < end)
        unearned_days = np.where(in_force, np.minimum(_next_anniversary(frame["start_date"], as_of), end) - (d + 1), 0)
        parts = pd.DataFrame(
            {
                "manager": frame["manager"],
                "product": frame["product_type"],
                "in_force": in_force.astype(np.int64),
                "premium": np.where(in_force, cents, 0),
                "earned": cents * earned_days,
                "unearned": cents * unearned_days,
            }
        )
        for key, row in parts.groupby(["manager", "product"]).sum().iterrows():
            total = sums.setdefault((int(key[0]), key[1]), [0, 0, 0, 0])
            for i, value in enumerate(row):
                total[i] += int(value)
    return sums


REPORTS = {"pending_claims": pending_claims, "premium": premium}


def _policies(conn: Connection, as_of: dt.date, year_start: dt.date) -> Iterator[pd.DataFrame]:
    """The policies that cover a day of this year up to ``as_of`` or are in force at it, in chunks."""
    query = (
        select(
            func.coalesce(Customer.account_manager_id, 0),
            Policy.product_type,
            Policy.start_date,
            Policy.end_date,
            Policy.annual_premium,
        )
        .join(Customer, Customer.id == Policy.customer_id)
        .where(Policy.voided_at.is_(None), Policy.start_date <= as_of, Policy.end_date > year_start)
    )
    result = conn.execute(query.execution_options(yield_per=CHUNK))
    for chunk in result.partitions():
        columns = ["manager", "product_type", "start_date", "end_date", "premium"]
        frame = pd.DataFrame(dict(zip(columns, zip(*chunk))))
        frame["start_date"] = pd.to_datetime(frame["start_date"])
        frame["end_date"] = pd.to_datetime(frame["end_date"])
        # Amounts have two decimals: the float of one, times 100 and rounded, is its exact cents.
        frame["cents"] = np.rint(frame["premium"].astype(np.float64) * 100).astype(np.int64)
        yield frame


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


_EPOCH = dt.date(1970, 1, 1).toordinal()


def _day_number(day: dt.date) -> int:
    """Days since 1970-01-01, the unit of ``_day_numbers``."""
    return day.toordinal() - _EPOCH


def _day_numbers(dates: pd.Series) -> np.ndarray:
    return dates.to_numpy(dtype="datetime64[D]").astype(np.int64)


def _anniversary(year: int, month: int, day: int) -> dt.date:
    """A start date's anniversary in ``year``: 29 February falls on 28 February in other years."""
    if month == 2 and day == 29 and not _is_leap(year):
        day = 28
    return dt.date(year, month, day)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _next_anniversary(starts: pd.Series, as_of: dt.date) -> np.ndarray:
    """The end (exclusive) of the policy year running at ``as_of`` for each start date: the next
    anniversary after the last one on or before ``as_of``. Worked out once per month and day."""
    month_day = starts.dt.month * 100 + starts.dt.day
    ends = {}
    for md in month_day.unique():
        month, day = divmod(int(md), 100)
        last = _anniversary(as_of.year, month, day)
        if last > as_of:
            last = _anniversary(as_of.year - 1, month, day)
        ends[md] = _day_number(_anniversary(last.year + 1, month, day))
    return month_day.map(ends).to_numpy(dtype=np.int64)
