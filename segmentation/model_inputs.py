"""The frequency model's inputs and its training rows, as known at each cut-off.

Training uses all the exposure of the three-year window, without leakage. The window is cut
into yearly periods ending with D: (T, T + 365] for the cut-offs T = D - 365, D - 730 and
D - 1095. Each period gives a row per customer and product type with cover in it:

- inputs: the customer as known at T (age band, gender, city, tenure band, premium band,
  counting claims of the three years ending T as reported by T, product types in force at T)
  and the row's product type;
- exposure: the policy-years of cover of that type in the period (policies started by D);
- claims: the counting claims on those policies with the loss in the period, reported by D.

A period's inputs come only from what was known at its cut-off, its outcome only from after
it, so a customer's own claims never explain themselves. The risk score then predicts, for a
customer as at D, the rate of each product type they hold and takes the mean (their own
product mix); a customer with nothing in force gets the portfolio's mix.

Every input is a small code: bands are ordinal numbers, gender, city and product type are
levels of a vocabulary learnt from the training rows (rare or unknown levels share the code
"other", the last one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .aggregates import HELD, aggregate
from .features import DAYS_PER_YEAR
from .frames import PRODUCT_TYPES, Prepared, from_day_number
from .policy import TierPolicy

PERIODS = 3  # yearly periods of the three-year window
PERIOD_DAYS = 365
AGE_EDGES = (25, 35, 45, 55, 65, 75)
TENURE_EDGES = (1, 3, 5, 10)
PREMIUM_EDGES = (1_000, 5_000, 20_000, 50_000)
PRIOR_CLAIMS_CAP = 3
PRODUCTS_CAP = 4
# Every input a model may use; the customer's (all but product_type) are known at a cut-off.
CUSTOMER_INPUTS = ("age_band", "gender", "city", "tenure_band", "premium_band", "prior_claims", "n_products")
CANDIDATES = ("product_type",) + CUSTOMER_INPUTS
TEXT = ("gender", "city", "product_type")  # levels without an order
MIN_LEVEL_ROWS = 10  # a level seen in fewer training rows is "other"
MAX_LEVELS = 60


def _band(values: np.ndarray, edges) -> np.ndarray:
    return np.digitize(values, edges).astype(np.int64)


def _band_labels(edges, unit: str = "") -> list[str]:
    """'<25', '25-34', ..., '75+' for edges (25, 35, ..., 75)."""
    labels = [f"<{edges[0]:,}{unit}"]
    labels += [f"{a:,}-{b:,}{unit}" if unit else f"{a:,}-{b - 1:,}" for a, b in zip(edges, edges[1:])]
    return labels + [f"{edges[-1]:,}+{unit}"]


ORDINAL_LABELS = {
    "age_band": _band_labels(AGE_EDGES),
    "tenure_band": _band_labels(TENURE_EDGES, " y"),
    "premium_band": _band_labels(PREMIUM_EDGES),
    "prior_claims": [str(k) for k in range(PRIOR_CLAIMS_CAP)] + [f"{PRIOR_CLAIMS_CAP}+"],
    "n_products": [str(k) for k in range(PRODUCTS_CAP)] + [f"{PRODUCTS_CAP}+"],
}


def customer_inputs(aggs: pd.DataFrame, d: int) -> pd.DataFrame:
    """The customer inputs (CUSTOMER_INPUTS) as known at day number d, from the per-customer
    sums as of d (aggregates.aggregate)."""
    birth = aggs["birth"].to_numpy(np.int64)
    first = aggs["first_start"].to_numpy(np.int64)
    return pd.DataFrame(
        {
            "age_band": _band(np.where(birth <= d, (d - birth) / 365.25, 0.0), AGE_EDGES),
            "gender": aggs["gender"].to_numpy(dtype=object),
            "city": aggs["city"].to_numpy(dtype=object),
            "tenure_band": _band(np.where(first <= d, (d - first) / DAYS_PER_YEAR, 0.0), TENURE_EDGES),
            "premium_band": _band(aggs["premium_cents"].to_numpy(np.int64) / 100, PREMIUM_EDGES),
            "prior_claims": np.minimum(aggs["claims_3y"].to_numpy(np.int64), PRIOR_CLAIMS_CAP),
            "n_products": np.minimum(aggs["n_products"].to_numpy(np.int64), PRODUCTS_CAP),
        },
        index=aggs.index,
    )


def held_matrix(aggs: pd.DataFrame) -> np.ndarray:
    """(customers x PRODUCT_TYPES) 0/1: the product types each customer has in force."""
    return np.column_stack([aggs[name].to_numpy(np.int64) > 0 for name in HELD]).astype(np.float64)


def training_rows(prep: Prepared, policy: TierPolicy, periods: int = PERIODS) -> pd.DataFrame:
    """Rows of (customer, product type, period) with exposure, stacked over the cut-offs
    (see the module docstring). Columns: CANDIDATES, customer_id, period (1 = the latest
    year), exposure (policy-years), claims. Claims whose policy is unknown are left out."""
    d, n, types = prep.as_of, prep.n, len(prep.product_names)
    c_product = prep.c_product if prep.c_product is not None else np.full(len(prep.c_cust), -1)
    parts, any_cover = [], np.zeros(len(prep.p_cust), dtype=bool)
    for k in range(1, periods + 1):
        t = d - PERIOD_DAYS * k
        days = np.maximum(np.minimum(prep.p_end, t + PERIOD_DAYS + 1) - np.maximum(prep.p_start, t + 1), 0)
        covered = (days > 0) & (prep.p_product >= 0)
        any_cover |= covered
        cell = prep.p_cust[covered] * types + prep.p_product[covered]
        exposure = np.bincount(cell, weights=days[covered].astype(np.float64), minlength=n * types)
        ahead = (
            prep.c_status_ok
            & (prep.c_loss > t)
            & (prep.c_loss <= t + PERIOD_DAYS)
            & (prep.c_report <= d)
            & (c_product >= 0)
        )
        claims = np.bincount(prep.c_cust[ahead] * types + c_product[ahead], minlength=n * types)
        cells = np.nonzero(exposure > 0)[0]
        who, product = cells // types, cells % types
        inputs = customer_inputs(aggregate(prep, t, policy), t).iloc[who].reset_index()
        inputs.insert(0, "product_type", np.asarray(prep.product_names, dtype=object)[product])
        parts.append(
            inputs.assign(period=k, exposure=exposure[cells] / DAYS_PER_YEAR, claims=claims[cells].astype(np.float64))
        )
    train = pd.concat(parts, ignore_index=True)[[*CANDIDATES, "customer_id", "period", "exposure", "claims"]]
    train.attrs["n_policies"] = int(any_cover.sum())
    train.attrs["window"] = {
        "periods": periods,
        "first_cutoff": from_day_number(d - PERIOD_DAYS * periods).isoformat(),
        "last_cutoff": from_day_number(d - PERIOD_DAYS).isoformat(),
        "target_to": from_day_number(d).isoformat(),
    }
    return train


class Vocabulary:
    """The levels of every input, learnt from training rows: ordinal bands keep their
    numbers; text inputs keep their levels seen in at least MIN_LEVEL_ROWS rows (at most
    MAX_LEVELS, by exposure). Any other value is coded len(levels): "other"."""

    def __init__(self, levels: dict[str, list]):
        self.levels = {name: list(values) for name, values in levels.items()}
        self._index = {name: pd.Index(values) for name, values in self.levels.items()}

    @classmethod
    def learn(cls, train: pd.DataFrame) -> Vocabulary:
        levels = {}
        for name in CANDIDATES:
            if name in TEXT:
                by = train.groupby(name, observed=True)["exposure"].agg(["size", "sum"])
                by = by[by["size"] >= MIN_LEVEL_ROWS].sort_values("sum", ascending=False, kind="stable")
                levels[name] = sorted(by.index[:MAX_LEVELS].astype(str))
            else:
                levels[name] = list(range(len(ORDINAL_LABELS[name])))
        return cls(levels)

    def encode(self, frame: pd.DataFrame, names) -> np.ndarray:
        """Codes (rows x names, int64) of the named inputs of a frame."""
        out = np.empty((len(frame), len(names)), dtype=np.int64)
        for j, name in enumerate(names):
            code = self._index[name].get_indexer(frame[name].to_numpy())
            out[:, j] = np.where(code >= 0, code, len(self.levels[name]))
        return out

    def size(self, name: str) -> int:
        """Codes of an input, "other" included."""
        return len(self.levels[name]) + 1

    def labels(self, name: str) -> list[str]:
        """Readable labels of an input's codes, "other" last."""
        named = ORDINAL_LABELS.get(name, [str(v) for v in self.levels[name]])
        return [*named, "other"]

    def product_codes(self) -> np.ndarray:
        """The code of each of PRODUCT_TYPES (in its order) as a product_type level."""
        return self.encode(pd.DataFrame({"product_type": list(PRODUCT_TYPES)}), ["product_type"])[:, 0]

    def to_dict(self) -> dict:
        return {name: [v if isinstance(v, str) else int(v) for v in values] for name, values in self.levels.items()}
