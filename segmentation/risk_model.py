"""Claim-frequency model: predicted counting claims per policy-year, for the risk score.

Training, with no leakage, on all the exposure of the three-year window: rows of (customer,
product type, yearly period), each with the customer's inputs as known at the period's
cut-off and its policy-years of cover as the weight (model_inputs.training_rows).

Two candidates are fitted on the rows of 75 % of the customers and judged on the other 25 %
by mean Poisson deviance (log link, exposure-weighted):
- a Poisson GLM whose inputs are chosen by forward selection on that held-out deviance
  (glm.select_inputs: an input stays only if it lowers it), kept as a table of relativities;
- gradient-boosted Poisson trees on every candidate input (they choose their own splits).
The GLM is kept unless the boosted model's deviance is lower by at least ``boosted_min_gain``
(a share of the GLM's; TierPolicy.model_boosted_min_gain, 2 % by default): the GLM's
relativities can be read and explained, and a refit moves its scores little where the data
moved little. The held-out quarter is chosen by customer (``held_out``), so that a refit
trains on the same customers as the fit before it.

A customer's predicted frequency as at D is the mean of the model's rates for the product
types they hold at D (their own product mix; the portfolio's mix if they hold none).

With too few policies (TierPolicy.model_min_policies) or no claims, the model falls back to
credibility: portfolio rate blended with the customer's own 3-year rate by
Z = exposure / (exposure + k).

Models are stored portably (model_format): the GLM as JSON, the boosted trees with skops.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .aggregates import aggregate
from .features import credibility, features_from_aggregates
from .frames import PRODUCT_TYPES, Prepared, prepare
from .glm import MIN_GAIN, Cells, GlmTable, distinct_rows, fit_glm, select_inputs
from .metrics import decile_table, normalised_gini
from .model_inputs import CANDIDATES, TEXT, Vocabulary, customer_inputs, held_matrix, training_rows
from .policy import TierPolicy

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingRegressor

MODEL_VERSION = "freq-2"


@dataclass(frozen=True)
class FittedModel:
    """A fitted frequency model with what is needed to audit and reuse it."""

    version: str
    kind: str  # "poisson_glm" | "hgb_poisson" | "credibility_fallback"
    data_window: dict
    n_rows: int
    n_policies: int
    portfolio_rate: float
    reference_frequency: float  # ref of the risk score: portfolio_rate / ln 2
    credibility_k: float
    metrics: dict = field(default_factory=dict)
    note: str = ""
    estimator: object = None  # the boosted trees (kind "hgb_poisson")
    inputs: tuple[str, ...] = ()  # the inputs of the model in use, in CANDIDATES' order
    vocabulary: dict = field(default_factory=dict)  # Vocabulary.to_dict()
    glm: GlmTable | None = None  # the GLM (in use, or the candidate the trees beat)
    product_mix: tuple[float, ...] = ()  # exposure share of each of PRODUCT_TYPES

    def to_bytes(self) -> bytes:
        """A portable document (model_format): JSON, the boosted trees inside it via skops."""
        from .model_format import dumps

        return dumps(self)

    @staticmethod
    def from_bytes(data: bytes) -> FittedModel:
        """Inverse of to_bytes. Raises model_format.LegacyModelFormat on a model stored by an
        older version (a pickle, never loaded), ValueError on anything else unreadable."""
        from .model_format import loads

        return FittedModel(**loads(data))


def build_training_frame(
    customers: pd.DataFrame,
    policies: pd.DataFrame,
    claims: pd.DataFrame,
    as_of: dt.date,
    policy: TierPolicy | None = None,
) -> pd.DataFrame:
    """Training rows (model_inputs.training_rows) of the frames as known at as_of."""
    policy = policy or TierPolicy()
    return training_from_prepared(prepare(customers, policies, claims, as_of, policy), policy)


def training_from_prepared(prep: Prepared, policy: TierPolicy) -> pd.DataFrame:
    """build_training_frame on prepared arrays (prep as of D)."""
    return training_rows(prep, policy)


def held_out(customer_ids: np.ndarray, salt: int = 0, share: float = 0.25) -> np.ndarray:
    """Which training rows are held out: about ``share`` of the customers, chosen by a hash of
    their id, so that a customer stays on the same side from one refit to the next (a draw by
    position would put other customers aside as soon as one row is added or removed, and
    refit a model on a different three quarters of the same book each time)."""
    h = (np.asarray(customer_ids, dtype=np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53) < share


def _hgb(random_state: int) -> HistGradientBoostingRegressor:
    """Boosted Poisson trees on the coded inputs: bands as ordered numbers, gender, city and
    product type as categories."""
    # scikit-learn is imported where a model is fitted, not with this module: the run's worker
    # processes, which import it to score with the GLM's table, started 1.3 s later with it.
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        loss="poisson",
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=15,
        min_samples_leaf=50,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=random_state,
        categorical_features=[name in TEXT for name in CANDIDATES],
    )


def _relativities(glm: GlmTable, vocab: Vocabulary, cells: Cells) -> list[dict]:
    """The GLM as an actuary reads it: per input, each level's training exposure and
    relativity exp(coefficient) to the input's base level (the most exposed, 1.000)."""
    out = []
    for j, name in enumerate(glm.names):
        column = cells.codes[:, CANDIDATES.index(name)]
        exposure = np.bincount(column, cells.exposure, vocab.size(name))
        labels = vocab.labels(name)
        out.append(
            {
                "input": name,
                "levels": [
                    {
                        "level": labels[code],
                        "exposure": float(exposure[code]),
                        "relativity": float(math.exp(glm.coefficients[j][code])),
                    }
                    for code in range(vocab.size(name))
                    if exposure[code] > 0
                ],
            }
        )
    return out


def _fallback(common: dict, n_policies: int, min_policies: int, rate: float, k: float) -> FittedModel:
    window = common["data_window"]
    return FittedModel(
        version=f"{MODEL_VERSION}:credibility_fallback:{window.get('target_to', '')}",
        kind="credibility_fallback",
        metrics={},
        estimator=None,
        note=(
            f"credibility fallback: {n_policies} policies with cover in the window "
            f"(< {min_policies}) or too few claims: predicted frequency = Z x own 3-year "
            f"rate + (1 - Z) x portfolio rate {rate:.4f}, Z = exposure / (exposure + {k:g})."
        ),
        **common,
    )


def fit_frequency_model(
    train: pd.DataFrame,
    random_state: int = 0,
    *,
    min_policies: int = 300,
    credibility_k: float = 3.0,
    boosted_min_gain: float = 0.02,
) -> FittedModel:
    """Fit the frequency model on a build_training_frame result (see the module docstring).

    Falls back to credibility (kind "credibility_fallback", with a note) when fewer than
    min_policies policies had cover in the window or there are too few claims.
    """
    window = dict(train.attrs.get("window", {}))
    exposure = train["exposure"].to_numpy(dtype=np.float64)
    claims = train["claims"].to_numpy(dtype=np.float64)
    rate = float(claims.sum() / exposure.sum()) if exposure.sum() > 0 else 0.0
    n_policies = int(train.attrs.get("n_policies", len(train)))
    common = dict(
        data_window=window,
        n_rows=len(train),
        n_policies=n_policies,
        portfolio_rate=rate,
        reference_frequency=max(rate, 1e-6) / math.log(2),
        credibility_k=float(credibility_k),
    )
    holdout = held_out(train["customer_id"].to_numpy(), random_state)
    # A model needs claims to learn from and held-out rows to be judged on.
    if n_policies < min_policies or claims[~holdout].sum() == 0 or holdout.sum() < 10:
        return _fallback(common, n_policies, min_policies, rate, credibility_k)

    vocab = Vocabulary.learn(train[~holdout])
    codes = vocab.encode(train, CANDIDATES)
    sizes = {name: vocab.size(name) for name in CANDIDATES}
    radix = [sizes[name] for name in CANDIDATES]
    fit = Cells.of_rows(CANDIDATES, radix, codes[~holdout], claims[~holdout], exposure[~holdout])
    held = Cells.of_rows(CANDIDATES, radix, codes[holdout], claims[holdout], exposure[holdout])

    def glm_candidate():
        names, steps = select_inputs(fit, held, sizes, CANDIDATES)
        glm = fit_glm(fit.on(names), sizes)
        return glm, steps, glm.predict(held.codes[:, [CANDIDATES.index(n) for n in names]])

    def hgb_candidate():
        with threadpool_limits(limits=1, user_api="openmp"):  # OpenMP's limit is the thread's own
            trees = _hgb(random_state).fit(
                fit.codes.astype(np.float64), fit.claims / fit.exposure, sample_weight=fit.exposure
            )
            return trees, trees.predict(held.codes.astype(np.float64))

    # scikit-learn's first import happens here, in this one thread: two threads importing its
    # parts at once can meet in its circular imports, and Python then hands one of them a
    # partially initialised module (CI once: "cannot import name 'clone' from … sklearn.base").
    import sklearn.ensemble
    import sklearn.linear_model
    import sklearn.metrics  # noqa: F401

    # Side by side: the two threads fill the cores, so their libraries' pools take one thread.
    with threadpool_limits(limits=1, user_api="blas"), concurrent.futures.ThreadPoolExecutor(2) as threads:
        glm_job, hgb_job = threads.submit(glm_candidate), threads.submit(hgb_candidate)
        glm, steps, glm_cells = glm_job.result()
        trees, hgb_cells = hgb_job.result()
    deviances = {"poisson_glm": held.deviance(glm_cells), "hgb_poisson": held.deviance(hgb_cells)}
    # The boosted model only if it is materially better (see the module docstring).
    gain = 1.0 - deviances["hgb_poisson"] / deviances["poisson_glm"] if deviances["poisson_glm"] > 0 else 0.0
    best = "hgb_poisson" if gain > 0 and gain >= boosted_min_gain else "poisson_glm"
    predicted = np.maximum(glm_cells if best == "poisson_glm" else hgb_cells, 1e-9)[held.inverse]
    hy, hw = claims[holdout] / exposure[holdout], exposure[holdout]
    mix = np.bincount(
        pd.Index(PRODUCT_TYPES).get_indexer(train["product_type"].astype(str)) + 1, exposure, len(PRODUCT_TYPES) + 1
    )[1:]
    mix = mix / mix.sum() if mix.sum() > 0 else np.full(len(mix), 1.0 / len(mix))
    metrics = {
        "deviance_model": deviances[best],
        "deviance_baseline": held.deviance(np.full(len(held.codes), fit.rate)),
        "deviance_candidates": deviances,
        "boosted_gain": gain,  # how much lower the boosted model's deviance is, as a share of the GLM's
        "boosted_min_gain": boosted_min_gain,
        "gini_normalised": normalised_gini(hy, predicted, hw),
        "deciles": decile_table(hy, predicted, hw),
        "n_train": int((~holdout).sum()),
        "n_holdout": int(holdout.sum()),
        "exposure_train": float(fit.exposure.sum()),
        "exposure_holdout": float(held.exposure.sum()),
        "selection": steps,  # the GLM's forward selection: each input added, held-out deviance after
        "selection_min_gain": MIN_GAIN,
        "glm_inputs": list(glm.names),
        "base_rate": float(math.exp(glm.intercept)),
        "relativities": _relativities(glm, vocab, fit),
    }
    added = ", ".join(glm.names) or "none"
    return FittedModel(
        version=f"{MODEL_VERSION}:{best}:{window.get('target_to', '')}",
        kind=best,
        metrics=metrics,
        estimator=trees if best == "hgb_poisson" else None,
        inputs=tuple(glm.names) if best == "poisson_glm" else CANDIDATES,
        vocabulary=vocab.to_dict(),
        glm=glm,
        product_mix=tuple(float(v) for v in mix),
        note=(
            f"{len(train):,} rows of customer x product type x year over {window.get('periods', '?')} years; "
            f"GLM inputs chosen on held-out deviance: {added}. Chosen on held-out mean Poisson deviance: "
            f"the GLM unless the boosted model's is at least {boosted_min_gain:.1%} lower "
            f"(it was {abs(gain):.1%} {'lower' if gain >= 0 else 'higher'})"
        ),
        **common,
    )


def _rates(model: FittedModel, vocab: Vocabulary, customer_codes: np.ndarray, names: list[str]) -> np.ndarray:
    """(distinct customers x PRODUCT_TYPES) predicted rates: each customer row with each
    product type in turn."""
    products = vocab.product_codes()
    rates = np.empty((len(customer_codes), len(products)), dtype=np.float64)
    inputs = list(model.inputs)
    for t, code in enumerate(products):
        full = np.empty((len(customer_codes), len(inputs)), dtype=np.int64)
        for j, name in enumerate(inputs):
            full[:, j] = code if name == "product_type" else customer_codes[:, names.index(name)]
        if model.kind == "poisson_glm":
            rates[:, t] = model.glm.predict(full)
        else:  # trees: each row is walked on its own
            rates[:, t] = model.estimator.predict(full.astype(np.float64))
    return np.maximum(rates, 0.0)


def predict_from_prepared(
    model: FittedModel, prep: Prepared, policy: TierPolicy, features: pd.DataFrame | None = None
) -> pd.Series:
    """predict_frequency on prepared arrays (features: compute_features at prep.as_of)."""
    return predict_from_aggregates(model, aggregate(prep, prep.as_of, policy), prep.as_of, policy, features)


def predict_from_aggregates(
    model: FittedModel, aggs: pd.DataFrame, d: int, policy: TierPolicy, features: pd.DataFrame | None = None
) -> pd.Series:
    """Predicted frequencies from the per-customer sums as of day number d: the mean of the
    rates of the product types each customer holds (see the module docstring)."""
    if features is None:
        features = features_from_aggregates(aggs, d, policy, portfolio_lr=0.0)
    if model.kind == "credibility_fallback":
        e = features["exposure_years"].to_numpy()
        own = np.divide(features["claims_3y"].to_numpy(), e, out=np.zeros(len(e)), where=e > 0)
        z = credibility(e, model.credibility_k)
        return pd.Series(z * own + (1 - z) * model.portfolio_rate, index=aggs.index, name="predicted_frequency")
    vocab = Vocabulary(model.vocabulary)
    names = [name for name in model.inputs if name != "product_type"]
    codes = vocab.encode(customer_inputs(aggs, d), names)
    # Customers share few distinct input rows, so each is predicted once and spread back.
    first, group = distinct_rows(codes, [vocab.size(name) for name in names])
    rates = _rates(model, vocab, codes[first], names)[group]
    held = held_matrix(aggs)
    own, mix = np.zeros(len(aggs)), np.zeros(len(aggs))
    for t, share in enumerate(model.product_mix):  # a fixed order: the same sums in any partition
        own += held[:, t] * rates[:, t]
        mix += share * rates[:, t]
    count = held.sum(axis=1)
    freq = np.where(count > 0, own / np.maximum(count, 1.0), mix)
    return pd.Series(freq, index=aggs.index, name="predicted_frequency")


def predict_frequency(
    model: FittedModel,
    customers: pd.DataFrame,
    policies: pd.DataFrame,
    claims: pd.DataFrame,
    as_of: dt.date,
    policy: TierPolicy | None = None,
) -> pd.Series:
    """Predicted counting claims per policy-year over the next year, given what each
    customer holds as of D, indexed by customer_id."""
    policy = policy or TierPolicy()
    return predict_from_prepared(model, prepare(customers, policies, claims, as_of, policy), policy)
