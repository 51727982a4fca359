"""Read the engine's input frames from the database, one range of customer ids at a time.

Plain SQL through the driver (no ORM objects): millions of rows become DataFrames quickly,
and a partition's memory is bounded by its own rows. Rows come ordered by id, so that a
partition sees its rows in the same relative order as a single pass would (the engine's
float sums then agree to the last bit).
"""
from __future__ import annotations

import datetime as dt
import io
import re

import pandas as pd
from sqlalchemy import Connection, text

_PARAM = re.compile(r":[a-z_]+")
# Dates travel as day numbers (days since 1970-01-01): integers are cheaper to move than text.
CUSTOMER_SQL = """SELECT id AS customer_id, {birth_date} AS birth_date, gender, city, source FROM customers
                  WHERE id >= :lo AND id < :hi ORDER BY id"""
POLICY_SQL = """SELECT id AS policy_id, customer_id, product_type, {start_date} AS start_date,
                       {end_date} AS end_date, term_years, payment_mode,
                       CAST(annual_premium AS DOUBLE PRECISION) AS annual_premium, status
                FROM policies WHERE customer_id >= :lo AND customer_id < :hi AND start_date <= :as_of
                      AND voided_at IS NULL
                ORDER BY id"""
CLAIM_SQL = """SELECT id AS claim_id, policy_id, customer_id, {loss_date} AS loss_date,
                      {report_date} AS report_date, status,
                      CAST(paid_amount AS DOUBLE PRECISION) AS paid_amount,
                      CAST(reserve_amount AS DOUBLE PRECISION) AS reserve_amount, fraud_suspected
               FROM claims WHERE customer_id >= :lo AND customer_id < :hi AND report_date <= :as_of
                     AND voided_at IS NULL
               ORDER BY id"""
_DAY_NUMBER = {"sqlite": "CAST(julianday({0}) - 2440587.5 AS INTEGER)", "postgresql": "({0} - DATE '1970-01-01')"}


def _with_day_numbers(sql: str, dialect: str, columns: tuple[str, ...]) -> str:
    return sql.format(**{c: _DAY_NUMBER[dialect].format(c) for c in columns})
STATE_SQL = """SELECT customer_id, tier, computed_tier, reasons, value_score, risk_score FROM customer_tiers
               WHERE customer_id >= :lo AND customer_id < :hi"""
OVERRIDE_SQL = """SELECT customer_id, tier, {expires_on} AS expires_on FROM tier_overrides
                  WHERE status = 'active' AND expires_on > :as_of AND customer_id >= :lo AND customer_id < :hi
                  ORDER BY id"""


def _inline(sql: str, params: dict) -> str:
    """Put the (trusted, typed) range and date parameters into the SQL text for COPY."""
    for name, value in params.items():
        if isinstance(value, dt.date):
            literal = f"DATE '{value.isoformat()}'"
        elif isinstance(value, int):
            literal = str(int(value))
        else:
            raise TypeError(f"cannot inline {name}={value!r}")
        sql = sql.replace(f":{name}", literal)
    return sql


def _read(conn: Connection, sql: str, params: dict, dates: tuple[str, ...] = ()) -> pd.DataFrame:
    """Run a query through the driver itself: row objects cost more than the query.

    PostgreSQL streams it with COPY into pandas' CSV parser; SQLite hands over tuples.
    """
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        buffer = io.BytesIO()
        with driver.cursor() as cur, cur.copy(f"COPY ({_inline(sql, params)}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        frame = pd.read_csv(buffer, keep_default_na=False, na_values=[""], dtype={"reasons": str, "tier": str})
    else:
        cur = driver.cursor()
        names = [n.strip(":") for n in _PARAM.findall(sql)]
        cur.execute(_PARAM.sub("?", sql), [params[n] if not isinstance(params[n], dt.date) else params[n].isoformat()
                                          for n in names])
        frame = pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])
        cur.close()
    for column in dates:  # day numbers → datetime64, the same on both databases
        frame[column] = frame[column].to_numpy(dtype="int64").astype("datetime64[D]")
    return frame


def load_partition(conn: Connection, lo: int, hi: int, as_of: dt.date) -> dict[str, pd.DataFrame]:
    """Customers with lo <= id < hi, with what was known of their policies and claims at as_of."""
    params = {"lo": lo, "hi": hi, "as_of": as_of}
    d = conn.dialect.name
    customers = _read(conn, _with_day_numbers(CUSTOMER_SQL, d, ("birth_date",)), params, ("birth_date",))
    policies = _read(conn, _with_day_numbers(POLICY_SQL, d, ("start_date", "end_date")), params,
                     ("start_date", "end_date"))
    claims = _read(conn, _with_day_numbers(CLAIM_SQL, d, ("loss_date", "report_date")), params,
                   ("loss_date", "report_date"))
    claims["fraud_suspected"] = claims["fraud_suspected"].isin([True, 1, "t", "1"])  # COPY writes t/f
    return {"customers": customers, "policies": policies, "claims": claims}


def load_state(conn: Connection, lo: int, hi: int, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored tier state and the active overrides of the same range."""
    params = {"lo": lo, "hi": hi, "as_of": as_of}
    state = _read(conn, STATE_SQL, params).set_index("customer_id")
    if not state.empty:
        state["reasons"] = [tuple(r.split(";")) if r else () for r in state["reasons"].fillna("")]
        state["value_score"] = state["value_score"].astype(float)
        state["risk_score"] = state["risk_score"].astype(float)
    overrides = _read(conn, _with_day_numbers(OVERRIDE_SQL, conn.dialect.name, ("expires_on",)), params,
                      ("expires_on",))
    return state, overrides


def id_ranges(conn: Connection, size: int) -> list[tuple[int, int]]:
    """Half-open id ranges of about ``size`` customers each, covering every customer."""
    lo, hi = conn.execute(text("SELECT MIN(id), MAX(id) FROM customers")).one()
    if lo is None:
        return []
    return [(start, min(start + size, hi + 1)) for start in range(lo, hi + 1, size)]
