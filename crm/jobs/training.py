"""The frequency model's training data: blocks of customers with their policies and claims,
read as the engine needs them to stack its yearly periods (segmentation.model_inputs).

Each block is a range of customer ids; the rows are those known at the run's as-of date D
(policies started by D, claims reported by D, nothing voided), with the claims of the six
years before D: the earliest period's inputs count the claims of the three years before its
cut-off (D - 1095). Dates travel as day numbers, money as floats: the model needs no more.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Float, Integer, cast, func, literal, select

from crm.models import Claim, Customer, Policy
from segmentation.frames import EPOCH
from segmentation.model_inputs import PERIOD_DAYS, PERIODS
from segmentation.policy import TierPolicy
from segmentation.risk_model import build_training_frame

Frames = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]  # customers, policies, claims


def _day(column, dialect: str):
    """A date column as its day number (days since 1970-01-01), computed by the database."""
    if dialect == "postgresql":
        return cast(column - literal(EPOCH), Integer)
    return cast(func.julianday(column) - 2440587.5, Integer)


def _frame(conn: Connection, statement, dates: tuple[str, ...] = ()) -> pd.DataFrame:
    result = conn.execute(statement)
    # Plain tuples: given Rows, pandas asks each whether it is a named tuple (hasattr), and a
    # Row answers that by raising and catching an exception.
    frame = pd.DataFrame.from_records(list(map(tuple, result)), columns=list(result.keys()))
    for column in dates:  # day numbers (a missing one: NaT)
        frame[column] = pd.to_datetime(pd.to_numeric(frame[column]), unit="D")
    return frame


def read_block(conn: Connection, lo: int, hi: int, as_of: dt.date, policy: TierPolicy) -> Frames:
    """The customers lo <= id < hi with their policies and claims as known at as_of."""
    day = conn.dialect.name
    since = as_of - dt.timedelta(days=PERIOD_DAYS * PERIODS + policy.window_days)
    customers = _frame(
        conn,
        select(
            Customer.id.label("customer_id"),
            _day(Customer.birth_date, day).label("birth_date"),
            Customer.gender,
            Customer.city,
        )
        .where(Customer.id >= lo, Customer.id < hi)
        .order_by(Customer.id),
        ("birth_date",),
    )
    policies = _frame(
        conn,
        select(
            Policy.id.label("policy_id"),
            Policy.customer_id,
            Policy.product_type,
            _day(Policy.start_date, day).label("start_date"),
            _day(Policy.end_date, day).label("end_date"),
            Policy.term_years,
            Policy.payment_mode,
            cast(Policy.annual_premium, Float).label("annual_premium"),
        )
        .where(
            Policy.customer_id >= lo, Policy.customer_id < hi, Policy.start_date <= as_of, Policy.voided_at.is_(None)
        )
        .order_by(Policy.id),
        ("start_date", "end_date"),
    )
    claims = _frame(
        conn,
        select(
            Claim.policy_id,
            Claim.customer_id,
            _day(Claim.loss_date, day).label("loss_date"),
            _day(Claim.report_date, day).label("report_date"),
            Claim.status,
        )
        .where(
            Claim.customer_id >= lo,
            Claim.customer_id < hi,
            Claim.report_date <= as_of,
            Claim.loss_date >= since,
            Claim.voided_at.is_(None),
        )
        .order_by(Claim.id),
        ("loss_date", "report_date"),
    )
    # The model counts claims; their amounts and fraud flags play no part in it.
    claims = claims.assign(paid_amount=0.0, reserve_amount=0.0, fraud_suspected=False)
    return customers, policies, claims


def training_frame(blocks: list[Frames], as_of: dt.date, policy: TierPolicy) -> pd.DataFrame:
    """The model's training rows (segmentation.model_inputs.training_rows) of blocks read by
    read_block, in the order given (id order: the rows a single pass would read)."""
    customers, policies, claims = (pd.concat([block[i] for block in blocks], ignore_index=True) for i in range(3))
    if claims.empty:  # typed columns for prepare() even with no row
        claims = claims.astype({"policy_id": np.int64, "customer_id": np.int64})
    return build_training_frame(customers, policies, claims, as_of, policy)
