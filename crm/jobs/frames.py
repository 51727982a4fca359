"""Read the engine's input frames from the database, one range of customer ids at a time.

Plain SQL through the driver (no ORM objects): millions of rows become DataFrames quickly,
and a partition's memory is bounded by its own rows. Rows come ordered by id, so that a
partition sees its rows in the same relative order as a single pass would (the engine's
float sums then agree to the last bit).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection, text

CUSTOMER_SQL = """SELECT id AS customer_id, birth_date, gender, city, source FROM customers
                  WHERE id >= :lo AND id < :hi ORDER BY id"""
POLICY_SQL = """SELECT id AS policy_id, customer_id, product_type, start_date, end_date, term_years, payment_mode,
                       CAST(annual_premium AS DOUBLE PRECISION) AS annual_premium, status
                FROM policies WHERE customer_id >= :lo AND customer_id < :hi AND start_date <= :as_of
                ORDER BY id"""
CLAIM_SQL = """SELECT id AS claim_id, policy_id, customer_id, loss_date, report_date, status,
                      CAST(paid_amount AS DOUBLE PRECISION) AS paid_amount,
                      CAST(reserve_amount AS DOUBLE PRECISION) AS reserve_amount, fraud_suspected
               FROM claims WHERE customer_id >= :lo AND customer_id < :hi AND report_date <= :as_of
               ORDER BY id"""
STATE_SQL = """SELECT customer_id, tier, computed_tier, reasons, value_score, risk_score FROM customer_tiers
               WHERE customer_id >= :lo AND customer_id < :hi"""
OVERRIDE_SQL = """SELECT customer_id, tier, expires_on FROM tier_overrides
                  WHERE status = 'active' AND expires_on > :as_of AND customer_id >= :lo AND customer_id < :hi
                  ORDER BY id"""


def _read(conn: Connection, sql: str, params: dict, dates: tuple[str, ...] = ()) -> pd.DataFrame:
    result = conn.execute(text(sql), params)
    frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for column in dates:  # SQLite gives ISO text, PostgreSQL date objects: one dtype for both
        frame[column] = pd.to_datetime(frame[column].astype(str), format="%Y-%m-%d")
    return frame


def load_partition(conn: Connection, lo: int, hi: int, as_of: dt.date) -> dict[str, pd.DataFrame]:
    """Customers with lo <= id < hi, with what was known of their policies and claims at as_of."""
    params = {"lo": lo, "hi": hi, "as_of": as_of}
    customers = _read(conn, CUSTOMER_SQL, params, ("birth_date",))
    policies = _read(conn, POLICY_SQL, params, ("start_date", "end_date"))
    claims = _read(conn, CLAIM_SQL, params, ("loss_date", "report_date"))
    claims["fraud_suspected"] = claims["fraud_suspected"].astype(bool)
    return {"customers": customers, "policies": policies, "claims": claims}


def load_state(conn: Connection, lo: int, hi: int, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored tier state and the active overrides of the same range."""
    params = {"lo": lo, "hi": hi, "as_of": as_of}
    state = _read(conn, STATE_SQL, params).set_index("customer_id")
    if not state.empty:
        state["reasons"] = [tuple(r.split(";")) if r else () for r in state["reasons"]]
        state["value_score"] = state["value_score"].astype(float)
        state["risk_score"] = state["risk_score"].astype(float)
    overrides = _read(conn, OVERRIDE_SQL, params, ("expires_on",))
    return state, overrides


def id_ranges(conn: Connection, size: int) -> list[tuple[int, int]]:
    """Half-open id ranges of about ``size`` customers each, covering every customer."""
    lo, hi = conn.execute(text("SELECT MIN(id), MAX(id) FROM customers")).one()
    if lo is None:
        return []
    return [(start, min(start + size, hi + 1)) for start in range(lo, hi + 1, size)]
