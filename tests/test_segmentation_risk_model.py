"""The claim-frequency model: no leakage, beats a constant rate, falls back on thin data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from segmentation import (FittedModel, TierPolicy, build_training_frame, fit_frequency_model,
                          predict_frequency)
from segmentation.frames import PRODUCT_TYPES
from test_segmentation_factories import (CLAIM_COLUMNS, D, claim, customer, days, frames,
                                         policy)

T = days(-365)


def synthetic_book(n: int, seed: int):
    """Customers with one policy over the year (T, D]; true frequency = age x product."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 80, n)
    product = rng.integers(0, 4, n)  # life, health, critical_illness, accident
    rate = np.array([0.05, 0.6, 0.1, 0.3])[product] * np.where(age > 60, 3.0, 1.0)
    ids = np.arange(1, n + 1)
    customers = pd.DataFrame({
        "customer_id": ids,
        "birth_date": pd.to_datetime(D) - pd.to_timedelta(age * 365.25, unit="D"),
        "gender": rng.choice(["M", "F"], n), "city": rng.choice(["A", "B", "C"], n),
        "source": "referral"})
    start = pd.to_datetime(T) - pd.to_timedelta(rng.integers(1, 700, n), unit="D")
    policies = pd.DataFrame({
        "policy_id": ids, "customer_id": ids,
        "product_type": np.array(PRODUCT_TYPES)[product], "start_date": start,
        "end_date": pd.to_datetime(days(400)), "term_years": 1, "payment_mode": "annual",
        "annual_premium": 1000.0, "status": "in_force"})
    return customers, policies, _year_of_claims(ids, rate, rng)


def _year_of_claims(ids: np.ndarray, rate: np.ndarray, rng) -> pd.DataFrame:
    """A year of exposure each in (T, D]: claim counts are Poisson(rate), one policy each."""
    owner = np.repeat(ids, rng.poisson(rate))
    loss = pd.to_datetime(T) + pd.to_timedelta(rng.integers(1, 366, len(owner)), unit="D")
    return pd.DataFrame({
        "claim_id": np.arange(len(owner)), "policy_id": owner, "customer_id": owner,
        "loss_date": loss, "report_date": loss, "status": "paid", "paid_amount": 100.0,
        "reserve_amount": 0.0, "fraud_suspected": False})[CLAIM_COLUMNS]


@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread():
    """Fit on one thread: on these tiny frames OpenMP threads only add waiting, and a busy
    shared machine turns that waiting into seconds."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def book():
    return synthetic_book(6000, seed=7)


@pytest.fixture(scope="module")
def model(book):
    return fit_frequency_model(build_training_frame(*book, D, TierPolicy()), random_state=0)


def test_model_beats_the_constant_rate_on_held_out_data(model):
    assert model.kind in ("poisson_glm", "hgb_poisson")
    m = model.metrics
    assert m["deviance_model"] < 0.97 * m["deviance_baseline"]
    assert m["gini_normalised"] > 0.2
    assert len(m["deciles"]) == 10
    assert sum(r["exposure"] for r in m["deciles"]) == pytest.approx(m["n_holdout"], rel=0.01)
    assert m["deciles"][-1]["actual_claims"] > 2 * m["deciles"][0]["actual_claims"]
    assert model.data_window["target_to"] == D.isoformat()
    assert model.n_rows == 6000 and model.version.startswith("freq-1:")


def test_predictions_follow_the_true_frequency_and_survive_serialisation(book, model):
    pred = predict_frequency(model, *book, D, TierPolicy())
    again = FittedModel.from_bytes(model.to_bytes())
    pd.testing.assert_series_equal(pred, predict_frequency(again, *book, D, TierPolicy()))
    life_young = book[1]["product_type"].eq("life").to_numpy()
    health = book[1]["product_type"].eq("health").to_numpy()
    assert pred[health].mean() > 4 * pred[life_young].mean()


def test_training_frame_has_no_leakage():
    pols = [policy(1, days(-800), days(400), product="life"),
            policy(1, days(-100), days(400), product="motor"),   # bought after T
            policy(2, days(-100), days(400))]                    # customer new after T
    cl = [claim(1, days(-500), days(-400)),           # known at T: a prior claim
          claim(1, days(-370), days(-300)),           # loss before T, reported after T
          claim(1, days(-10)), claim(1, days(-364)),  # in (T, D]: the target
          claim(1, days(-365), days(-365)),           # loss on T itself: before the target
          claim(1, days(-5), days(3))]                # reported after D
    train = build_training_frame(*frames([customer(1), customer(2)], pols, cl), D)
    assert list(train.index) == [1]
    r = train.loc[1]
    assert r.prior_claims == 2  # reported by T: the claim at -500 and the one on T
    assert r.held_life == 1 and r.held_motor == 0
    assert r.claims == 2
    assert r.exposure == pytest.approx(1.0 + 101 / 365)  # the motor policy covers D-100 ... D


def test_fallback_to_credibility_on_tiny_data():
    pols = [policy(c, days(-1094), days(400)) for c in (1, 2, 3)]
    cl = [claim(1, days(-10)), claim(1, days(-20)), claim(2, days(-200))]
    c, p, k = frames([customer(1), customer(2), customer(3)], pols, cl)
    model = fit_frequency_model(build_training_frame(c, p, k, D))
    assert model.kind == "credibility_fallback" and "credibility" in model.note
    rate = 3 / 3.0  # 3 claims in (T, D] over 3 policy-years
    assert model.portfolio_rate == pytest.approx(rate)
    pred = predict_frequency(model, c, p, k, D)
    z = 3.0 / (3.0 + 3.0)  # 3 years of exposure in the window each
    assert pred[1] == pytest.approx(z * 2 / 3 + (1 - z) * rate)
    assert pred[3] == pytest.approx((1 - z) * rate)


def test_fallback_threshold_is_configurable(book):
    train = build_training_frame(*book, D)
    model = fit_frequency_model(train, min_policies=10_000)
    assert model.kind == "credibility_fallback"


def _xor_book(n: int, seed: int):
    """A book whose frequency depends on gender and city together (high for women in A and
    men in B, low otherwise): no sum of per-column effects fits it, trees do."""
    customers, policies, _ = synthetic_book(n, seed)
    high = ((customers["gender"] == "F") & (customers["city"] == "A")) | (
        (customers["gender"] == "M") & (customers["city"] == "B"))
    rate = np.where(high, 0.9, 0.05)
    return customers, policies, _year_of_claims(customers["customer_id"].to_numpy(), rate,
                                                np.random.default_rng(seed + 1))


def test_the_glm_is_kept_unless_the_boosted_model_is_materially_better(book):
    """The boosted model replaces the GLM only if its held-out deviance is lower by at least
    boosted_min_gain (2 % by default): on a book the GLM fits, it stays; on one it cannot fit,
    the trees win; and the rule is the setting's, in both directions."""
    train = build_training_frame(*book, D, TierPolicy())
    fitted = fit_frequency_model(train, random_state=0)
    gain = fitted.metrics["boosted_gain"]
    assert gain < 0.02 and fitted.kind == "poisson_glm"  # the true model is log-additive
    assert fitted.metrics["boosted_min_gain"] == 0.02 and "at least 2.0% lower" in fitted.note
    assert fit_frequency_model(train, random_state=0, boosted_min_gain=0.0).kind == (
        "hgb_poisson" if gain > 0 else "poisson_glm")

    xor = build_training_frame(*_xor_book(6000, seed=5), D, TierPolicy())
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


def test_a_refit_on_a_book_a_little_changed_moves_the_predictions_a_little(book):
    """Fitted again without 1% of its customers, the model predicts the others' frequencies
    within 1% (median): with a held-out quarter drawn by position it moved them by 6%."""
    from segmentation.risk_model import INPUTS

    train = build_training_frame(*book, D, TierPolicy())
    before = fit_frequency_model(train, random_state=0)
    after = fit_frequency_model(train.iloc[60:], random_state=0)  # 1% of the customers gone
    assert before.kind == after.kind == "poisson_glm"
    x = train.iloc[60:][INPUTS]
    change = np.abs(after.estimator.predict(x) / before.estimator.predict(x) - 1)
    assert np.median(change) < 0.01, np.median(change)
