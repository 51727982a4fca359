"""Triggers at and just below each threshold, hysteresis both ways, overrides, explain."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_segmentation_factories import D, days, feature_frame, feature_row

from segmentation import TierPolicy, assign_tiers, explain

VIP_BY_LONG_TERM = dict(annual_premium=20000.0, long_term_regular=1, tenure_years=3.0)


def tier_of(prev=None, overrides=None, **values):
    """(tier, reasons) of one customer with the given features."""
    f = feature_frame(feature_row(**values))
    previous = None if prev is None else pd.Series({1: prev})
    r = assign_tiers(f, previous, overrides, TierPolicy(), as_of=D).loc[1]
    return r.tier, r.reasons


@pytest.mark.parametrize(
    "values, expected",
    [
        ({}, ("standard", ())),
        ({"fraud_flag": True}, ("watchlist", ("W_FRAUD",))),
        ({"claims_3y": 2, "credible_loss_ratio": 1.20}, ("watchlist", ("W_LOSS",))),
        ({"claims_3y": 1, "credible_loss_ratio": 9.0}, ("standard", ())),
        ({"claims_3y": 2, "credible_loss_ratio": 1.1999999}, ("standard", ())),
        ({"claims_3y": 2, "credible_loss_ratio": math.inf}, ("watchlist", ("W_LOSS",))),
        ({"claims_3y": 4, "claims_12m": 4}, ("watchlist", ("W_FREQ",))),
        ({"claims_3y": 3, "claims_12m": 3}, ("standard", ())),
        ({"annual_premium": 50000.0}, ("vip", ("V_PREMIUM",))),
        ({"annual_premium": 49999.99}, ("standard", ())),
        (VIP_BY_LONG_TERM, ("vip", ("V_LONGTERM",))),
        ({**VIP_BY_LONG_TERM, "annual_premium": 19999.99}, ("standard", ())),
        ({**VIP_BY_LONG_TERM, "long_term_regular": 0}, ("standard", ())),
        ({**VIP_BY_LONG_TERM, "tenure_years": 2.999}, ("standard", ())),
        ({**VIP_BY_LONG_TERM, "annual_premium": 60000.0}, ("vip", ("V_PREMIUM", "V_LONGTERM"))),
        (
            {"annual_premium": 60000.0, "fraud_flag": True, "claims_12m": 5, "claims_3y": 5},
            ("watchlist", ("W_FRAUD", "W_FREQ", "V_PREMIUM")),
        ),
    ],
)
def test_triggers_at_and_just_below_each_threshold(values, expected):
    assert tier_of(**values) == expected


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"annual_premium": 40000.0}, ("vip", ("V_RETAINED",))),
        ({"annual_premium": 39999.99}, ("standard", ())),
        ({"annual_premium": 16000.0, "long_term_regular": 1}, ("vip", ("V_RETAINED",))),
        ({"annual_premium": 15999.99, "long_term_regular": 1}, ("standard", ())),
        ({"annual_premium": 50000.0}, ("vip", ("V_PREMIUM",))),
        ({"annual_premium": 45000.0, "fraud_flag": True}, ("watchlist", ("W_FRAUD",))),
    ],
)
def test_vip_hysteresis(values, expected):
    assert tier_of(prev="vip", **values) == expected


def test_hysteresis_only_keeps_a_tier_never_grants_it():
    assert tier_of(prev="standard", annual_premium=45000.0) == ("standard", ())
    assert tier_of(annual_premium=45000.0) == ("standard", ())
    assert tier_of(prev="standard", claims_recent_180d=1, claims_3y=1) == ("standard", ())


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"claims_recent_180d": 1, "claims_3y": 1}, ("watchlist", ("W_RETAINED",))),
        ({"claims_3y": 2, "credible_loss_ratio": 1.00}, ("watchlist", ("W_RETAINED",))),
        ({"claims_3y": 2, "credible_loss_ratio": 0.9999}, ("standard", ())),
        ({"claims_3y": 1, "credible_loss_ratio": 5.0}, ("standard", ())),
        ({"claims_3y": 2, "credible_loss_ratio": 1.5}, ("watchlist", ("W_LOSS",))),
        (
            {"annual_premium": 80000.0, "claims_recent_180d": 1, "claims_3y": 1},
            ("watchlist", ("W_RETAINED", "V_PREMIUM")),
        ),
        ({"annual_premium": 80000.0}, ("vip", ("V_PREMIUM",))),
    ],
)
def test_watchlist_hysteresis(values, expected):
    assert tier_of(prev="watchlist", **values) == expected


def test_active_override_wins_and_the_computed_tier_is_kept():
    o = pd.DataFrame({"customer_id": [1], "tier": ["vip"], "expires_on": [days(1)]})
    f = feature_frame(feature_row(fraud_flag=True))
    r = assign_tiers(f, None, o, TierPolicy(), as_of=D).loc[1]
    assert (r.tier, r.reasons) == ("vip", ("W_FRAUD", "M_OVERRIDE"))
    assert (r.computed_tier, r.computed_reasons) == ("watchlist", ("W_FRAUD",))


@pytest.mark.parametrize("expires, active", [(days(0), False), (days(-30), False), (days(1), True), (None, True)])
def test_override_expires_on_its_expiry_date(expires, active):
    o = pd.DataFrame({"customer_id": [1], "tier": ["watchlist"], "expires_on": [expires]})
    expected = ("watchlist", ("M_OVERRIDE",)) if active else ("standard", ())
    assert tier_of(overrides=o) == expected


def test_unknown_tiers_raise():
    with pytest.raises(ValueError, match="previous_tier"):
        tier_of(prev="gold")
    o = pd.DataFrame({"customer_id": [1], "tier": ["gold"], "expires_on": [None]})
    with pytest.raises(ValueError, match="overrides"):
        tier_of(overrides=o)


def test_portfolio_ratio_given_recomputes_the_credible_ratio():
    # Z = 3 / (3 + 3) = 0.5: 0.5 x 1.0 + 0.5 x 1.4 = 1.2 -> W_LOSS.
    f = feature_frame(feature_row(claims_3y=2, loss_ratio=1.0, exposure_years=3.0))
    assert assign_tiers(f, portfolio_lr=1.4).loc[1, "reasons"] == ("W_LOSS",)
    assert assign_tiers(f, portfolio_lr=1.3).loc[1, "reasons"] == ()


def test_explain_gives_value_threshold_and_what_would_change():
    row = pd.Series(feature_row(annual_premium=45000.0, claims_12m=3, claims_3y=3))
    items = {i["code"]: i for i in explain(row, TierPolicy())}
    assert set(items) == {"W_FRAUD", "W_LOSS", "W_FREQ", "V_PREMIUM", "V_LONGTERM", "V_RETAINED", "W_RETAINED"}
    assert items["V_PREMIUM"]["holds"] is False
    assert items["V_PREMIUM"]["threshold"] == {"annual_premium": 50000.0}
    assert "5,000.00" in items["V_PREMIUM"]["change"]
    assert items["W_FREQ"]["value"] == {"claims_12m": 3}
    assert "1 more" in items["W_FREQ"]["change"]
    assert items["V_RETAINED"]["holds"] is True


TIER_VALUES = st.sampled_from(["vip", "standard", "watchlist", None])
ROWS = st.fixed_dictionaries(
    {
        "annual_premium": st.sampled_from([0.0, 15999.99, 16000.0, 20000.0, 40000.0, 50000.0]),
        "tenure_years": st.sampled_from([0.0, 2.99, 3.0, 12.0]),
        "long_term_regular": st.integers(0, 2),
        "claims_3y": st.integers(0, 5),
        "claims_12m": st.integers(0, 5),
        "claims_recent_180d": st.integers(0, 2),
        "fraud_flag": st.booleans(),
        "credible_loss_ratio": st.sampled_from([0.0, 0.99, 1.0, 1.2, math.inf]),
    }
)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(ROWS, TIER_VALUES, TIER_VALUES), min_size=1, max_size=8))
def test_tiers_are_valid_and_watchlist_reasons_imply_watchlist(rows):
    f = feature_frame(*(feature_row(**r) for r, _, _ in rows))
    prev = pd.Series([p for _, p, _ in rows], index=f.index)
    pins = [(cid, o) for cid, (_, _, o) in zip(f.index, rows) if o is not None]
    o = pd.DataFrame(pins, columns=["customer_id", "tier"]).assign(expires_on=None)
    out = assign_tiers(f, prev, o, TierPolicy(), as_of=D)
    assert set(out["tier"]) <= {"vip", "standard", "watchlist"}
    assert set(out["computed_tier"]) <= {"vip", "standard", "watchlist"}
    for r in out.itertuples():
        if any(c.startswith("W_") for c in r.computed_reasons):
            assert r.computed_tier == "watchlist"
        if "M_OVERRIDE" not in r.reasons:
            assert r.tier == r.computed_tier and r.reasons == r.computed_reasons
        assert (r.computed_tier == "vip") == any(
            c.startswith("V_") for c in r.computed_reasons
        ) or r.computed_tier == "watchlist"
