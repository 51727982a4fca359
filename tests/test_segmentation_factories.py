"""Factories for the segmentation tests: tiny customers, policies and claims frames.

Kept in a test module (the engine's tests own only tests/test_segmentation_*.py files);
the other segmentation test modules import it by name, as pytest puts tests/ on sys.path.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd

from segmentation import TierPolicy, compute_features

D = dt.date(2025, 6, 30)
_ids = itertools.count(1)

CUSTOMER_COLUMNS = ["customer_id", "birth_date", "gender", "city", "source"]
POLICY_COLUMNS = [
    "policy_id",
    "customer_id",
    "product_type",
    "start_date",
    "end_date",
    "term_years",
    "payment_mode",
    "annual_premium",
    "status",
]
CLAIM_COLUMNS = [
    "claim_id",
    "policy_id",
    "customer_id",
    "loss_date",
    "report_date",
    "status",
    "paid_amount",
    "reserve_amount",
    "fraud_suspected",
]


def days(n: int, base: dt.date = D) -> dt.date:
    """The date n days after base (negative: before)."""
    return base + dt.timedelta(days=n)


def customer(cid: int, birth=dt.date(1980, 1, 1), gender="M", city="Shanghai", source="referral") -> dict:
    return {"customer_id": cid, "birth_date": birth, "gender": gender, "city": city, "source": source}


def policy(
    cid: int,
    start: dt.date,
    end: dt.date,
    premium: float = 1000.0,
    product: str = "health",
    term: int = 1,
    mode: str = "annual",
) -> dict:
    return {
        "policy_id": next(_ids),
        "customer_id": cid,
        "product_type": product,
        "start_date": start,
        "end_date": end,
        "term_years": term,
        "payment_mode": mode,
        "annual_premium": premium,
        "status": "in_force",
    }


def claim(
    cid: int,
    loss: dt.date,
    report: dt.date | None = None,
    status: str = "paid",
    paid: float = 0.0,
    reserve: float = 0.0,
    fraud: bool = False,
) -> dict:
    return {
        "claim_id": next(_ids),
        "policy_id": 0,
        "customer_id": cid,
        "loss_date": loss,
        "report_date": report or loss,
        "status": status,
        "paid_amount": paid,
        "reserve_amount": reserve,
        "fraud_suspected": fraud,
    }


def frames(customers, policies=(), claims=()):
    """(customers, policies, claims) frames; dates as datetime64 like a database read."""
    c = pd.DataFrame(list(customers), columns=CUSTOMER_COLUMNS)
    p = pd.DataFrame(list(policies), columns=POLICY_COLUMNS)
    k = pd.DataFrame(list(claims), columns=CLAIM_COLUMNS)
    c["birth_date"] = pd.to_datetime(c["birth_date"])
    for col in ("start_date", "end_date"):
        p[col] = pd.to_datetime(p[col])
    for col in ("loss_date", "report_date"):
        k[col] = pd.to_datetime(k[col])
    return c, p, k


def features(customers, policies=(), claims=(), as_of: dt.date = D, **policy_fields):
    """compute_features of hand-built rows."""
    c, p, k = frames(customers, policies, claims)
    return compute_features(c, p, k, as_of, TierPolicy(**policy_fields))


def feature_row(**values) -> dict:
    """A standard customer's features (nothing triggers), with some values replaced."""
    row = {
        "annual_premium": 1000.0,
        "tenure_years": 1.0,
        "long_term_regular": 0,
        "n_products": 1,
        "earned_premium": 3000.0,
        "exposure_years": 3.0,
        "incurred": 0.0,
        "claims_3y": 0,
        "claims_12m": 0,
        "claims_recent_180d": 0,
        "fraud_flag": False,
        "loss_ratio": 0.0,
        "credible_loss_ratio": 0.0,
    }
    row.update(values)
    return row


def feature_frame(*rows: dict) -> pd.DataFrame:
    """A features frame of feature_row dicts, customer ids 1, 2, ..."""
    return pd.DataFrame(list(rows), index=pd.Index(range(1, len(rows) + 1), name="customer_id"))


def test_factories_build_empty_frames_with_all_columns():
    c, p, k = frames([customer(1)])
    assert list(p.columns) == POLICY_COLUMNS and list(k.columns) == CLAIM_COLUMNS
    f = features([customer(1)])
    assert f.loc[1, "annual_premium"] == 0.0 and f.loc[1, "loss_ratio"] == 0.0
