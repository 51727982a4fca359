"""Read the engine's input from the database, one range of customer ids at a time.

"Policies and claims as of D" is computed in one place, segmentation.aggregates.aggregate:
the database only selects a partition's rows (as whole numbers: day numbers, cents, codes
and flags), on both databases through the same SQLAlchemy Core statements, and the engine
sums them. A partition's memory is bounded by its own rows.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Connection, Float, Integer, case, cast, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from crm.models import Claim, Customer, CustomerTier, Policy, TierOverride
from segmentation.aggregates import aggregate, windows
from segmentation.frames import NO_DATE, PRODUCT_TYPES, Prepared, day_number, from_day_number
from segmentation.policy import TierPolicy


class day_number_of(FunctionElement):
    """A date column's day number (days since 1970-01-01): the one expression whose SQL
    differs between the databases."""

    type = Integer()
    inherit_cache = True


@compiles(day_number_of, "sqlite")
def _day_number_sqlite(element, compiler, **kw):
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) - 2440587.5 AS INTEGER)"


@compiles(day_number_of, "postgresql")
def _day_number_pg(element, compiler, **kw):
    return f"({compiler.process(element.clauses, **kw)} - DATE '1970-01-01')"


class greatest(FunctionElement):
    """The larger of two values (SQLite's scalar max, PostgreSQL's GREATEST)."""

    type = BigInteger()
    inherit_cache = True


@compiles(greatest, "sqlite")
def _greatest_sqlite(element, compiler, **kw):
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "postgresql")
def _greatest_pg(element, compiler, **kw):
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


C, P, CL = Customer.__table__, Policy.__table__, Claim.__table__
_T, _O = CustomerTier.__table__, TierOverride.__table__


def _cents(column) -> ColumnElement:
    return cast(func.round(func.coalesce(column, 0) * 100), BigInteger)


def _flag(condition) -> ColumnElement:
    return case((condition, 1), else_=0)


_PRODUCT_CODE = case({t: i for i, t in enumerate(PRODUCT_TYPES)}, value=P.c.product_type, else_=-1)


def _customers(lo: int, hi: int):
    return (
        select(C.c.id, day_number_of(C.c.birth_date), C.c.gender, C.c.city)
        .where(C.c.id >= lo, C.c.id < hi)
        .order_by(C.c.id)
    )


def _policies(lo: int, hi: int, outer: dt.date):
    return select(
        P.c.customer_id,
        day_number_of(P.c.start_date),
        func.coalesce(day_number_of(P.c.end_date), int(NO_DATE)),
        _cents(P.c.annual_premium),
        func.coalesce(P.c.term_years, 0),
        _flag(P.c.payment_mode == "single"),
        _PRODUCT_CODE,
    ).where(P.c.customer_id >= lo, P.c.customer_id < hi, P.c.start_date <= outer, P.c.voided_at.is_(None))


def _claims(lo: int, hi: int, window_start: dt.date, outer: dt.date, excluded: tuple[str, ...]):
    # Losses before the window count nowhere (segmentation.aggregates).
    return select(
        CL.c.customer_id,
        day_number_of(CL.c.loss_date),
        day_number_of(CL.c.report_date),
        _flag(func.coalesce(CL.c.status, "").not_in(excluded)),
        _flag(CL.c.fraud_suspected.is_(True)),
        _cents(CL.c.paid_amount) + _cents(CL.c.reserve_amount),
    ).where(
        CL.c.customer_id >= lo,
        CL.c.customer_id < hi,
        CL.c.report_date <= outer,
        CL.c.voided_at.is_(None),
        CL.c.loss_date >= window_start,
        CL.c.loss_date <= outer,
    )


def _ints(conn: Connection, stmt, width: int) -> np.ndarray:
    """The rows of a statement of whole numbers as one (rows, width) int64 array."""
    rows = conn.execute(stmt).all()
    # Not np.array(rows): numpy inspects each Row as a generic sequence, 60 times slower.
    return np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=len(rows) * width).reshape(
        len(rows), width
    )


def load_aggregates(conn: Connection, lo: int, hi: int, d: dt.date, policy: TierPolicy) -> pd.DataFrame:
    """segmentation.aggregates.aggregate of the customers lo <= id < hi as of day d."""
    window_start = from_day_number(windows(day_number(d), policy)["window_start"])
    customers = conn.execute(_customers(lo, hi)).all()
    p = _ints(conn, _policies(lo, hi, d), 7)
    c = _ints(conn, _claims(lo, hi, window_start, d, tuple(policy.excluded_claim_statuses)), 6)
    ids = pd.Index(np.array([r[0] for r in customers], dtype=np.int64), name="customer_id")
    birth = np.array([NO_DATE if r[1] is None else r[1] for r in customers], dtype=np.int64)
    prep = Prepared(
        customer_ids=ids,
        as_of=day_number(d),
        birth=birth,
        gender=np.array([r[2] for r in customers], dtype=object),
        city=np.array([r[3] for r in customers], dtype=object),
        p_cust=ids.get_indexer(p[:, 0]),
        p_start=p[:, 1],
        p_end=p[:, 2],
        p_premium_cents=p[:, 3],
        p_term=p[:, 4],
        p_single=p[:, 5] != 0,
        p_product=p[:, 6],
        product_names=PRODUCT_TYPES,
        c_cust=ids.get_indexer(c[:, 0]),
        c_loss=c[:, 1],
        c_report=c[:, 2],
        c_status_ok=c[:, 3] != 0,
        c_fraud=c[:, 4] != 0,
        c_amount_cents=c[:, 5],
    )
    return aggregate(prep, day_number(d), policy)


def _covered_days(lo: int, hi: int, lo_date: dt.date, hi_date: dt.date) -> ColumnElement:
    """A policy's days of cover in the days [lo, hi) (segmentation.aggregates._covered)."""
    start = case((P.c.start_date <= lo_date, lo), else_=day_number_of(P.c.start_date))
    end = case((P.c.end_date.is_(None) | (P.c.end_date >= hi_date), hi), else_=day_number_of(P.c.end_date))
    return greatest(end - start, 0)


def portfolio_totals(conn: Connection, as_of: dt.date, policy: TierPolicy) -> tuple[int, int]:
    """(Σ incurred cents, Σ earned cent-days) of the whole portfolio as of D, exactly (as
    segmentation.aggregates.portfolio_totals): the portfolio loss ratio without moving a row."""
    d = day_number(as_of)
    start = windows(d, policy)["window_start"]
    start_date = from_day_number(start)
    incurred = select(func.coalesce(func.sum(_cents(CL.c.paid_amount) + _cents(CL.c.reserve_amount)), 0)).where(
        CL.c.report_date <= as_of,
        CL.c.loss_date >= start_date,
        CL.c.loss_date <= as_of,
        CL.c.voided_at.is_(None),
        func.coalesce(CL.c.status, "").not_in(tuple(policy.excluded_claim_statuses)),
    )
    days = _covered_days(start, d + 1, start_date, from_day_number(d + 1))
    earned = select(func.coalesce(func.sum(_cents(P.c.annual_premium) * days), 0)).where(
        P.c.start_date <= as_of, P.c.voided_at.is_(None), P.c.end_date.is_(None) | (P.c.end_date >= start_date)
    )
    return int(conn.execute(incurred).scalar_one()), int(conn.execute(earned).scalar_one())


def load_state(conn: Connection, lo: int, hi: int, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored tier state and the active overrides of the same range."""
    state = pd.DataFrame(
        conn.execute(
            select(
                _T.c.customer_id,
                _T.c.tier,
                _T.c.computed_tier,
                _T.c.reasons,
                cast(_T.c.value_score, Float),
                cast(_T.c.risk_score, Float),
            ).where(_T.c.customer_id >= lo, _T.c.customer_id < hi)
        ).all(),
        columns=["customer_id", "tier", "computed_tier", "reasons", "value_score", "risk_score"],
    )
    state = state.set_index("customer_id")
    if not state.empty:
        state["reasons"] = [tuple(r.split(";")) if r else () for r in state["reasons"].fillna("")]
        state["value_score"] = state["value_score"].astype(float)
        state["risk_score"] = state["risk_score"].astype(float)
    overrides = pd.DataFrame(
        conn.execute(
            select(_O.c.customer_id, _O.c.tier, _O.c.expires_on)
            .where(_O.c.status == "active", _O.c.expires_on > as_of, _O.c.customer_id >= lo, _O.c.customer_id < hi)
            .order_by(_O.c.id)
        ).all(),
        columns=["customer_id", "tier", "expires_on"],
    )
    return state, overrides


def id_ranges(conn: Connection, size: int) -> list[tuple[int, int]]:
    """Half-open id ranges of about ``size`` customers each, covering every customer."""
    lo, hi = conn.execute(
        select(select(func.min(C.c.id)).scalar_subquery(), select(func.max(C.c.id)).scalar_subquery())
    ).one()
    if lo is None:
        return []
    return [(start, min(start + size, hi + 1)) for start in range(lo, hi + 1, size)]
