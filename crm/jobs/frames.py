"""Read the engine's input frames from the database, one range of customer ids at a time.

One reader of "the customers, and their policies and claims as known at D" serves every
use: a run's partitions (load_aggregates: the engine's own sums, segmentation.aggregates),
the model's training sample (crm.jobs.training) and one customer's explanation
(load_partition). The statements are SQLAlchemy Core; only the day-number expression of a
date differs between the databases. PostgreSQL sends the rows through COPY into pandas' CSV
reader (psycopg's ``cursor.copy`` with the statement's bound parameters); SQLite through
the statement's result. Policies and claims come in no particular order: every sum the
engine takes of them is a sum of whole numbers (days, cents, counts), the same in any order.
"""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
from sqlalchemy import BigInteger, Connection, Float, Integer, case, cast, func, literal, select, text

from crm.models import Claim, Customer, CustomerTier, Policy, TierOverride
from segmentation.aggregates import aggregate, windows
from segmentation.frames import EPOCH, day_number, from_day_number, prepare
from segmentation.policy import TierPolicy


def day_of(column, dialect: str):
    """A date column as its day number (days since 1970-01-01), computed by the database:
    whole numbers travel cheaper than dates or text."""
    if dialect == "postgresql":
        return cast(column - literal(EPOCH), Integer)
    return cast(func.julianday(column) - 2440587.5, Integer)


def read_frame(conn: Connection, statement, dates: tuple[str, ...] = ()) -> pd.DataFrame:
    """The rows of a Core statement as a DataFrame; ``dates`` are day-number columns made
    datetime64 (a missing one: NaT).

    PostgreSQL: COPY of the statement, its parameters bound by psycopg (``cursor.copy``),
    read by pandas' CSV parser; a row object per row costs more than the query. SQLite: the
    statement's result, as plain tuples."""
    if conn.dialect.name == "postgresql":
        compiled = statement.compile(dialect=conn.dialect)
        buffer = io.BytesIO()
        with (
            conn.connection.driver_connection.cursor() as cur,
            cur.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, HEADER)", compiled.params) as copy,
        ):
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        frame = pd.read_csv(
            buffer, keep_default_na=False, na_values=[""], dtype=_TEXTS, true_values=["t"], false_values=["f"]
        )
    else:
        result = conn.execute(statement)
        # The rows as the driver's tuples, off the result's DBAPI cursor: pandas builds its
        # columns from tuples in C, but walks row objects one attribute at a time.
        frame = pd.DataFrame.from_records(result.cursor.fetchall(), columns=list(result.keys()))
        result.close()
    for column in dates:
        frame[column] = pd.to_datetime(pd.to_numeric(frame[column]), unit="D")
    return frame


_TEXTS = {name: str for name in ("gender", "city", "product_type", "payment_mode", "status", "tier", "reasons")}


def load_partition(
    conn: Connection, lo: int, hi: int, as_of: dt.date, losses_from: dt.date | None = None
) -> dict[str, pd.DataFrame]:
    """Customers with lo <= id < hi, with what was known of their policies and claims at
    as_of: policies started by then, claims reported by then (with the loss on or after
    ``losses_from``, if given: earlier ones count nowhere), nothing voided."""
    day = conn.dialect.name
    customers = read_frame(
        conn,
        select(
            Customer.id.label("customer_id"),
            day_of(Customer.birth_date, day).label("birth_date"),
            Customer.gender,
            Customer.city,
        )
        .where(Customer.id >= lo, Customer.id < hi)
        .order_by(Customer.id),
        ("birth_date",),
    )
    policies = read_frame(
        conn,
        select(
            Policy.id.label("policy_id"),
            Policy.customer_id,
            Policy.product_type,
            day_of(Policy.start_date, day).label("start_date"),
            day_of(Policy.end_date, day).label("end_date"),
            Policy.term_years,
            Policy.payment_mode,
            cast(Policy.annual_premium, Float).label("annual_premium"),
        ).where(
            Policy.customer_id >= lo, Policy.customer_id < hi, Policy.start_date <= as_of, Policy.voided_at.is_(None)
        ),
        ("start_date", "end_date"),
    )
    known = [Claim.customer_id >= lo, Claim.customer_id < hi, Claim.report_date <= as_of, Claim.voided_at.is_(None)]
    if losses_from is not None:
        known.append(Claim.loss_date >= losses_from)
    claims = read_frame(
        conn,
        select(
            Claim.policy_id,
            Claim.customer_id,
            day_of(Claim.loss_date, day).label("loss_date"),
            day_of(Claim.report_date, day).label("report_date"),
            Claim.status,
            cast(Claim.paid_amount, Float).label("paid_amount"),
            cast(Claim.reserve_amount, Float).label("reserve_amount"),
            Claim.fraud_suspected,
        ).where(*known),
        ("loss_date", "report_date"),
    )
    claims["fraud_suspected"] = claims["fraud_suspected"].astype(bool)
    return {"customers": customers, "policies": policies, "claims": claims}


def load_aggregates(
    conn: Connection, lo: int, hi: int, d: dt.date, policy: TierPolicy, target_to: dt.date | None = None
) -> pd.DataFrame:
    """segmentation.aggregates.aggregate of the customers lo <= id < hi as of feature day d
    (with the target sums up to ``target_to``, if given), from the rows known then."""
    outer = target_to or d
    window_start = from_day_number(windows(day_number(d), policy)["window_start"])
    part = load_partition(conn, lo, hi, outer, losses_from=window_start)
    prep = prepare(part["customers"], part["policies"], part["claims"], outer, policy)
    return aggregate(prep, day_number(d), policy, day_number(target_to) if target_to else None)


def _cents(column):
    """Money as whole cents, rounded as segmentation.frames.cents rounds them (whole numbers:
    their sums are exact)."""
    return cast(func.round(func.coalesce(cast(column, Float), 0.0) * 100), BigInteger)


def portfolio_totals(conn: Connection, as_of: dt.date, policy: TierPolicy) -> tuple[int, int]:
    """(Σ incurred cents, Σ earned cent-days) of the whole portfolio as of D, exactly (as
    segmentation.aggregates.portfolio_totals), summed by the database: the portfolio loss
    ratio without moving a row."""
    return tuple(int(conn.execute(sum_).scalar_one()) for sum_ in portfolio_sums(conn.dialect.name, as_of, policy))


def portfolio_sums(dialect: str, as_of: dt.date, policy: TierPolicy) -> tuple:
    """The two statements of portfolio_totals: (Σ incurred cents, Σ earned cent-days)."""
    d = day_number(as_of)
    window_start = windows(d, policy)["window_start"]
    start_day, end_day = from_day_number(window_start), as_of + dt.timedelta(days=1)
    incurred = select(func.coalesce(func.sum(_cents(Claim.paid_amount) + _cents(Claim.reserve_amount)), 0)).where(
        Claim.report_date <= as_of,
        Claim.loss_date >= start_day,
        Claim.loss_date <= as_of,
        Claim.voided_at.is_(None),
        func.coalesce(Claim.status, "").not_in(list(policy.excluded_claim_statuses) or [""]),
    )
    # A policy's days of cover in the window: a date's day number only where its cover starts
    # or ends inside the window.
    first = case((Policy.start_date <= start_day, window_start), else_=day_of(Policy.start_date, dialect))
    last = case((Policy.end_date >= end_day, d + 1), else_=day_of(Policy.end_date, dialect))
    earned = select(func.coalesce(func.sum(_cents(Policy.annual_premium) * (last - first)), 0)).where(
        Policy.start_date <= as_of, Policy.voided_at.is_(None), Policy.end_date >= start_day
    )
    return incurred, earned


def load_state(conn: Connection, lo: int, hi: int, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored tier state and the active overrides of the same range."""
    state = read_frame(
        conn,
        select(
            CustomerTier.customer_id,
            CustomerTier.tier,
            CustomerTier.computed_tier,
            CustomerTier.reasons,
            cast(CustomerTier.value_score, Float).label("value_score"),
            cast(CustomerTier.risk_score, Float).label("risk_score"),
        ).where(CustomerTier.customer_id >= lo, CustomerTier.customer_id < hi),
    ).set_index("customer_id")
    if not state.empty:
        # tolist: a str column's values one by one cost three times as much.
        state["reasons"] = [tuple(r.split(";")) if r else () for r in state["reasons"].fillna("").tolist()]
    overrides = read_frame(
        conn,
        select(
            TierOverride.customer_id,
            TierOverride.tier,
            day_of(TierOverride.expires_on, conn.dialect.name).label("expires_on"),
            case((TierOverride.confirmed_by_id.is_(None), 0), else_=1).label("confirmed"),
        )
        .where(
            TierOverride.status == "active",
            TierOverride.expires_on > as_of,
            TierOverride.customer_id >= lo,
            TierOverride.customer_id < hi,
        )
        .order_by(TierOverride.id),
        ("expires_on",),
    )
    return state, overrides


def id_ranges(conn: Connection, size: int) -> list[tuple[int, int]]:
    """Half-open id ranges of about ``size`` customers each, covering every customer."""
    # Two subqueries: SQLite reads a lone MIN or MAX off the key, but scans for both at once.
    lo, hi = conn.execute(text("SELECT (SELECT MIN(id) FROM customers), (SELECT MAX(id) FROM customers)")).one()
    if lo is None:
        return []
    return [(start, min(start + size, hi + 1)) for start in range(lo, hi + 1, size)]
