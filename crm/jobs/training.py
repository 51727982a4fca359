"""The frequency model's training data: blocks of customers with their policies and claims,
read as the engine needs them to stack its yearly periods (segmentation.model_inputs).

Each block is a range of customer ids, read by the one reader of the engine's frames
(crm.jobs.frames.load_partition): the rows known at the run's as-of date D, with the claims
of the six years before D (the earliest period's inputs count the claims of the three years
before its cut-off, D - 1095).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Connection

from crm.jobs.frames import load_partition
from segmentation.model_inputs import PERIOD_DAYS, PERIODS
from segmentation.policy import TierPolicy
from segmentation.risk_model import build_training_frame

Frames = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]  # customers, policies, claims


def read_block(conn: Connection, lo: int, hi: int, as_of: dt.date, policy: TierPolicy) -> Frames:
    """The customers lo <= id < hi with their policies and claims as known at as_of."""
    since = as_of - dt.timedelta(days=PERIOD_DAYS * PERIODS + policy.window_days)
    part = load_partition(conn, lo, hi, as_of, losses_from=since)
    return part["customers"], part["policies"], part["claims"]


def training_frame(blocks: list[Frames], as_of: dt.date, policy: TierPolicy) -> pd.DataFrame:
    """The model's training rows (segmentation.model_inputs.training_rows) of blocks read by
    read_block, in the order given (id order: the rows a single pass would read)."""
    customers, policies, claims = (pd.concat([block[i] for block in blocks], ignore_index=True) for i in range(3))
    return build_training_frame(customers, policies, claims, as_of, policy)
