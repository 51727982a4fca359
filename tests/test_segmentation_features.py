"""Hand-computed checks of every feature of TIER_RULES.md, at the edges of each window."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from test_segmentation_factories import D, claim, customer, days, features, frames, policy

from segmentation import TierPolicy, compute_features, portfolio_loss_ratio
from segmentation.features import covered_days, earned_premium_1_365, loss_ratio
from segmentation.frames import day_number

COVER = policy(1, days(-2000), days(2000), premium=3650.0)  # in force over the whole window


def one(claims=(), policies=(COVER,), **kw) -> pd.Series:
    """Features of customer 1."""
    return features([customer(1)], policies, claims, **kw).loc[1]


# --- the window and the as-of rule -------------------------------------------------------


def test_loss_on_first_day_of_window_counts_and_day_before_does_not():
    f = one([claim(1, days(-1094), days(-10), paid=100.0)])
    assert f.claims_3y == 1 and f.incurred == 100.0
    f = one([claim(1, days(-1095), days(-10), paid=100.0)])
    assert f.claims_3y == 0 and f.incurred == 0.0


def test_claim_reported_after_as_of_is_ignored():
    assert one([claim(1, days(-5), days(0))]).claims_3y == 1
    f = one([claim(1, days(-5), days(1), paid=9.0, fraud=True)])
    assert f.claims_3y == 0 and f.incurred == 0 and not f.fraud_flag


def test_policy_starting_after_as_of_plays_no_part():
    f = one(policies=[policy(1, days(1), days(366), premium=99999.0)])
    assert (f.annual_premium, f.tenure_years, f.earned_premium, f.exposure_years) == (0, 0, 0, 0)
    f = one(policies=[policy(1, days(0), days(365), premium=500.0)])
    assert f.annual_premium == 500.0 and f.exposure_years == pytest.approx(1 / 365)


def test_end_date_is_exclusive():
    assert one(policies=[policy(1, days(-100), days(0), premium=7.0)]).annual_premium == 0
    assert one(policies=[policy(1, days(-100), days(1), premium=7.0)]).annual_premium == 7.0
    assert one(policies=[policy(1, days(-100), days(0))]).exposure_years == pytest.approx(100 / 365)


def test_last_year_and_recent_windows():
    f = one(
        [claim(1, days(-364)), claim(1, days(-365)), claim(1, days(-400), days(-179)), claim(1, days(-400), days(-180))]
    )
    assert f.claims_3y == 4
    assert f.claims_12m == 1
    assert f.claims_recent_180d == 1


# --- premiums: the 1/365 method ------------------------------------------------------------


def test_earned_premium_over_a_leap_year_is_366_365ths():
    as_of = dt.date(2024, 12, 31)
    f = one(policies=[policy(1, dt.date(2024, 1, 1), dt.date(2025, 1, 1), premium=1000.0)], as_of=as_of)
    assert f.earned_premium == pytest.approx(1000.0 * 366 / 365, abs=1e-9)
    assert f.exposure_years == pytest.approx(366 / 365)


def test_covered_days_and_earned_premium_helpers_are_vectorised():
    start = np.array([0, 5, 20, 0])
    end = np.array([10, 8, 30, 100])
    assert covered_days(start, end, 6, 21).tolist() == [4, 2, 1, 15]
    assert earned_premium_1_365([365.0] * 4, start, end, 6, 21).tolist() == [4, 2, 1, 15]


def test_annual_premium_long_term_tenure_and_products():
    pols = [
        policy(1, days(-1460), days(3000), premium=100.0, product="life", term=10),
        policy(1, days(-30), days(3000), premium=10.0, product="life", term=20, mode="single"),
        policy(1, days(-30), days(300), premium=1.0, product="motor", term=9),
        policy(1, days(-4000), days(-3000), premium=1000.0, product="travel", term=10),
        policy(1, days(5), days(300), premium=5000.0, product="health"),
    ]
    f = one(policies=pols)
    assert f.annual_premium == 111.0
    assert f.long_term_regular == 1
    assert f.n_products == 2
    assert f.tenure_years == pytest.approx(4000 / 365)


# --- claims: statuses, fraud, loss ratios ----------------------------------------------------


def test_rejected_and_withdrawn_claims_do_not_count_but_open_ones_do():
    cl = [
        claim(1, days(-10), status=s, paid=1.0, reserve=2.0)
        for s in ("reported", "registered", "under_review", "approved", "paid", "rejected", "withdrawn")
    ]
    f = one(cl)
    assert f.claims_3y == 5 and f.incurred == 15.0


def test_fraud_suspicion_counts_whatever_the_status():
    f = one([claim(1, days(-10), status="rejected", fraud=True)])
    assert f.fraud_flag and f.claims_3y == 0
    assert not one([claim(1, days(-1095), fraud=True)]).fraud_flag
    assert one([claim(1, days(-1094), status="withdrawn", fraud=1)]).fraud_flag


def test_loss_ratio_zero_when_nothing_and_infinite_without_earned_premium():
    assert one(policies=()).loss_ratio == 0.0
    f = one([claim(1, days(-10), paid=50.0)], policies=())
    assert math.isinf(f.loss_ratio) and math.isinf(f.credible_loss_ratio)
    assert loss_ratio([0.0, 5.0, 6.0], [0.0, 0.0, 3.0]).tolist() == [0.0, math.inf, 2.0]


def test_credible_loss_ratio_blends_with_the_portfolio_by_z():
    # Customer 1: 3 years of exposure (Z = 0.5), earned 3,000, incurred 6,000: LR 2.0.
    # Customer 2: 3 years, earned 3,000, incurred 0. Portfolio LR = 6,000 / 6,000 = 1.0.
    pols = [policy(c, days(-1094), days(1), premium=1000.0) for c in (1, 2)]
    f = features([customer(1), customer(2)], pols, [claim(1, days(-3), paid=6000.0)])
    assert f.loc[1, "exposure_years"] == pytest.approx(3.0)
    assert portfolio_loss_ratio(f) == pytest.approx(1.0)
    assert f.loc[1, "credible_loss_ratio"] == pytest.approx(0.5 * 2.0 + 0.5 * 1.0)
    assert f.loc[2, "credible_loss_ratio"] == pytest.approx(0.5 * 0.0 + 0.5 * 1.0)


def test_given_portfolio_ratio_is_used_and_k_is_a_setting():
    c, p, k = frames(
        [customer(1)], [policy(1, days(-1094), days(1), premium=1000.0)], [claim(1, days(-3), paid=6000.0)]
    )
    f = compute_features(c, p, k, D, TierPolicy(credibility_k=1.0), portfolio_lr=0.0)
    assert f.loc[1, "credible_loss_ratio"] == pytest.approx(0.75 * 2.0)


def test_python_dates_and_datetime64_give_the_same_features():
    cl = [claim(1, days(-10), paid=5.0)]
    c, p, k = frames([customer(1)], [COVER], cl)
    as_dates = [df.assign(**{col: df[col].dt.date for col in df.columns if "date" in col}) for df in (c, p, k)]
    pd.testing.assert_frame_equal(compute_features(c, p, k, D), compute_features(*as_dates, D))


def test_every_customer_gets_a_row_and_unknown_customers_are_ignored():
    f = features([customer(1), customer(2)], [policy(3, days(-5), days(5))], [claim(3, days(-1))])
    assert list(f.index) == [1, 2] and f["claims_3y"].sum() == 0


def test_duplicate_customer_ids_raise():
    with pytest.raises(ValueError, match="customer_id"):
        features([customer(1), customer(1)])


def test_day_number():
    assert day_number(dt.date(1970, 1, 2)) == 1
    assert day_number(pd.Timestamp("2024-03-01 13:00")) == day_number(dt.date(2024, 3, 1))
