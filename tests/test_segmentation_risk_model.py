"""The claim-frequency model: every year of the window without leakage, inputs chosen on
held-out deviance, GLM or trees, portable storage, fallback on thin data."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_segmentation_factories import D, claim, customer, days, frames, policy
from threadpoolctl import threadpool_limits

from segmentation import FittedModel, TierPolicy, build_training_frame, fit_frequency_model, predict_frequency
from segmentation.model_format import LegacyModelFormat
from segmentation.truth import GENDER, make_true_portfolio, true_rate


@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread():
    """Fit on one thread: on these tiny frames OpenMP threads only add waiting, and a busy
    shared machine turns that waiting into seconds."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def book():
    return make_true_portfolio(4000, seed=7, as_of=D)


@pytest.fixture(scope="module")
def train(book):
    return build_training_frame(*book[:3], D, TierPolicy())


@pytest.fixture(scope="module")
def model(train):
    return fit_frequency_model(train, random_state=0)


def _xor(age_band, gender, city, product):
    """High for women in the even cities and men in the odd ones, low otherwise: no sum of
    per-input effects fits it (gender alone and city alone explain nothing), trees do."""
    high = (gender == 1) == (city % 2 == 0)
    return np.where(high, 0.9, 0.05) + 0 * age_band * product


def test_model_beats_the_constant_rate_on_held_out_data(train, model):
    assert model.kind in ("poisson_glm", "hgb_poisson")
    m = model.metrics
    assert m["deviance_model"] < 0.9 * m["deviance_baseline"]
    assert m["gini_normalised"] > 0.3
    assert len(m["deciles"]) == 10
    assert sum(r["exposure"] for r in m["deciles"]) == pytest.approx(m["exposure_holdout"])
    assert m["deciles"][-1]["actual_claims"] > 3 * m["deciles"][0]["actual_claims"]
    assert model.data_window["target_to"] == D.isoformat() and model.data_window["periods"] == 3
    assert model.n_rows == len(train) and model.version.startswith("freq-2:")


def test_training_uses_every_year_of_the_window(book, train):
    """Rows of the three yearly periods hold all the window's exposure and all its counting
    claims, each with its product type (the old rows held the last year's only)."""
    assert sorted(train["period"].unique()) == [1, 2, 3]
    p = book.policies
    start, end = (p[c].to_numpy().astype("datetime64[D]").astype(np.int64) for c in ("start_date", "end_date"))
    d = (pd.Timestamp(D) - pd.Timestamp(0)).days
    window = np.maximum(np.minimum(end, d + 1) - np.maximum(start, d - 1094), 0).sum() / 365
    assert train["exposure"].sum() == pytest.approx(window)
    k = book.claims
    loss, report = (k[c].to_numpy().astype("datetime64[D]").astype(np.int64) for c in ("loss_date", "report_date"))
    counting = (k["status"] != "rejected").to_numpy() & (report <= d) & (loss > d - 1095)
    assert train["claims"].sum() == counting.sum()
    one = train.groupby(["customer_id", "period", "product_type"]).size()
    assert (one == 1).all()  # a row per customer, product type and year


def _on(pol: dict, loss, report=None, status="paid") -> dict:
    return {**claim(pol["customer_id"], loss, report, status=status), "policy_id": pol["policy_id"]}


def test_training_frame_has_no_leakage():
    life = policy(1, days(-800), days(400), product="life")
    motor = policy(1, days(-100), days(400), product="motor")  # bought in the last year
    new = policy(2, days(-100), days(400))  # a customer new in the last year
    claims = [
        _on(life, days(-500), days(-400)),  # year 2's; known at T1 = D - 365: a prior claim then
        _on(life, days(-370), days(-300)),  # year 2's; reported after T1: not known at T1
        _on(life, days(-365)),  # the loss on T1 itself: year 2's, known at T1
        _on(life, days(-364)),  # year 1's
        _on(motor, days(-10)),  # year 1's, on the motor policy
        _on(motor, days(-5), days(3)),  # reported after D: no part in anything
        _on(motor, days(-20), status="rejected"),
    ]
    train = build_training_frame(*frames([customer(1), customer(2)], [life, motor, new], claims), D)
    rows = {(r.customer_id, r.period, r.product_type): r for r in train.itertuples()}
    assert set(rows) == {(1, 1, "life"), (1, 1, "motor"), (1, 2, "life"), (1, 3, "life"), (2, 1, "health")}
    assert (rows[1, 1, "life"].claims, rows[1, 1, "life"].exposure) == (1, 1.0)
    assert rows[1, 1, "life"].prior_claims == 2 and rows[1, 1, "life"].n_products == 1  # as known at T1
    assert rows[1, 1, "motor"].claims == 1 and rows[1, 1, "motor"].exposure == pytest.approx(101 / 365)
    assert rows[1, 1, "motor"].prior_claims == 2 and rows[1, 1, "motor"].n_products == 1  # motor unknown at T1
    assert (rows[1, 2, "life"].claims, rows[1, 2, "life"].exposure) == (3, 1.0)
    assert rows[1, 2, "life"].prior_claims == 0  # nothing was known at T2 = D - 730
    assert rows[1, 3, "life"].claims == 0 and rows[1, 3, "life"].exposure == pytest.approx(71 / 365)
    assert rows[2, 1, "health"].n_products == 0 and rows[2, 1, "health"].tenure_band == 0


def test_glm_inputs_are_chosen_by_held_out_deviance(model):
    """The inputs the truth uses are chosen, each lowering the held-out deviance; on a book
    where gender plays no part, gender is left out."""
    steps = model.metrics["selection"]
    assert {"product_type", "age_band", "city", "gender"} <= set(model.metrics["glm_inputs"])
    assert all(b["deviance"] < a["deviance"] for a, b in zip(steps, steps[1:]))
    assert [s["added"] for s in steps[1:]][:2] == ["product_type", "age_band"]

    def genderless(age_band, gender, city, product):
        return true_rate(age_band, gender, city, product) / GENDER[gender]

    fair = fit_frequency_model(
        build_training_frame(*make_true_portfolio(4000, seed=8, as_of=D, rate=genderless)[:3], D)
    )
    assert "gender" not in fair.metrics["glm_inputs"] and "product_type" in fair.metrics["glm_inputs"]


def test_relativities_read_as_a_rating_table(model):
    """exp(coefficient) per level, 1 at each input's most exposed level; health's relativity
    to life near the truth's (1.60 / 0.15, with the age mix of each)."""
    table = {r["input"]: {lv["level"]: lv for lv in r["levels"]} for r in model.metrics["relativities"]}
    for levels in table.values():
        base = max(levels.values(), key=lambda lv: lv["exposure"])
        assert base["relativity"] == 1.0
    products = table["product_type"]
    ratio = products["health"]["relativity"] / products["life"]["relativity"]
    assert 7 < ratio < 16, ratio
    assert table["age_band"]["75+"]["relativity"] > table["age_band"]["35-44"]["relativity"]
    assert model.metrics["base_rate"] > 0


@pytest.mark.parametrize("min_gain", [1.0, 0.0])
def test_stored_and_read_back_a_model_predicts_exactly_the_same(book, train, min_gain):
    """The GLM as JSON, the trees through skops (min_gain 0: the trees whenever better; forced
    below when they are not): never a pickle."""
    import dataclasses

    from segmentation.model_inputs import CANDIDATES, Vocabulary
    from segmentation.risk_model import _hgb

    fitted = fit_frequency_model(train, random_state=0, boosted_min_gain=min_gain)
    if min_gain == 0.0 and fitted.kind != "hgb_poisson":
        codes = Vocabulary(fitted.vocabulary).encode(train, CANDIDATES).astype(np.float64)
        trees = _hgb(0).fit(codes, train["claims"] / train["exposure"], sample_weight=train["exposure"])
        fitted = dataclasses.replace(fitted, kind="hgb_poisson", estimator=trees, inputs=CANDIDATES)
    data = fitted.to_bytes()
    assert data[:1] == b"{" and b"pickle" not in data[:200]
    again = FittedModel.from_bytes(data)
    assert again.kind == fitted.kind and again.metrics == fitted.metrics
    assert again.glm.to_dict() == fitted.glm.to_dict() and again.vocabulary == fitted.vocabulary
    before = predict_frequency(fitted, *book[:3], D)
    pd.testing.assert_series_equal(predict_frequency(again, *book[:3], D), before, check_exact=True)
    assert before.nunique() > 50


class _Tripwire:
    """A pickle that, if loaded, touches a file: what an old (or forged) stored model could do."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_an_older_versions_pickle_is_never_loaded(tmp_path):
    sentinel = tmp_path / "ran"
    with pytest.raises(LegacyModelFormat):
        FittedModel.from_bytes(pickle.dumps(_Tripwire(sentinel), protocol=pickle.HIGHEST_PROTOCOL))
    assert not sentinel.exists()
    with pytest.raises(ValueError):
        FittedModel.from_bytes(b"not a model")


def test_fallback_to_credibility_on_tiny_data():
    pols = [policy(c, days(-1094), days(400)) for c in (1, 2, 3)]
    cl = [_on(pols[0], days(-10)), _on(pols[0], days(-20)), _on(pols[1], days(-200))]
    c, p, k = frames([customer(1), customer(2), customer(3)], pols, cl)
    model = fit_frequency_model(build_training_frame(c, p, k, D))
    assert model.kind == "credibility_fallback" and "credibility" in model.note
    rate = 3 / 9.0  # 3 claims over 3 x 3 policy-years of the window
    assert model.portfolio_rate == pytest.approx(rate)
    pred = predict_frequency(model, c, p, k, D)
    z = 3.0 / (3.0 + 3.0)  # 3 years of exposure in the window each
    assert pred[1] == pytest.approx(z * 2 / 3 + (1 - z) * rate)
    assert pred[3] == pytest.approx((1 - z) * rate)


def test_fallback_threshold_is_configurable(train):
    assert fit_frequency_model(train, min_policies=10**6).kind == "credibility_fallback"


def test_the_glm_is_kept_unless_the_boosted_model_is_materially_better(train):
    """The boosted model replaces the GLM only if its held-out deviance is lower by at least
    boosted_min_gain (2 % by default): on a book the GLM fits, it stays; on one it cannot fit,
    the trees win; and the rule is the setting's, in both directions."""
    fitted = fit_frequency_model(train, random_state=0)
    gain = fitted.metrics["boosted_gain"]
    assert gain < 0.02 and fitted.kind == "poisson_glm"  # the truth is nearly log-additive
    assert fitted.metrics["boosted_min_gain"] == 0.02 and "at least 2.0% lower" in fitted.note
    assert fit_frequency_model(train, random_state=0, boosted_min_gain=0.0).kind == (
        "hgb_poisson" if gain > 0 else "poisson_glm"
    )

    xor = build_training_frame(*make_true_portfolio(4000, seed=5, as_of=D, rate=_xor)[:3], D)
    trees = fit_frequency_model(xor, random_state=0)
    assert trees.metrics["boosted_gain"] > 0.1 and trees.kind == "hgb_poisson"
    assert fit_frequency_model(xor, random_state=0, boosted_min_gain=0.99).kind == "poisson_glm"
    d = trees.metrics["deviance_candidates"]
    assert trees.metrics["boosted_gain"] == pytest.approx(1 - d["hgb_poisson"] / d["poisson_glm"])


def test_a_customer_is_held_out_or_not_whatever_else_is_in_the_book():
    """The held-out quarter is chosen by customer, not by position: a refit on a book with a
    few customers more or less trains on the same customers as before, not on another
    random three quarters (which moved most published risk scores at every refit)."""
    from segmentation.risk_model import held_out

    ids = np.arange(1, 20_001)
    everyone = held_out(ids)
    assert np.array_equal(held_out(ids[::3]), everyone[::3])
    assert 0.23 < everyone.mean() < 0.27
    assert not np.array_equal(held_out(ids, salt=1), everyone)


def test_a_refit_on_a_book_a_little_changed_moves_the_predictions_a_little(book, train, model):
    """Fitted again without 1% of its customers, the model predicts the others' frequencies
    within 1% (median)."""
    gone = train["customer_id"] <= 40
    after = fit_frequency_model(train[~gone].copy(), random_state=0)
    assert model.kind == after.kind == "poisson_glm"
    before_pred = predict_frequency(model, *book[:3], D)
    after_pred = predict_frequency(after, *book[:3], D)
    assert np.median(np.abs(after_pred / before_pred - 1)) < 0.01
