"""The whole run: partitions equal a single pass; scores; diffs; the tier policy itself."""

from __future__ import annotations

import ast
import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_segmentation_factories import feature_frame, feature_row
from threadpoolctl import threadpool_limits

import segmentation
from segmentation import (
    TierPolicy,
    build_training_frame,
    diff_results,
    explain,
    fit_portfolio_stats,
    risk_score,
    score_portfolio,
    value_score,
)
from segmentation.model_inputs import CANDIDATES, Vocabulary
from segmentation.risk_model import _hgb, fit_frequency_model
from segmentation.synthetic import make_portfolio


@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread():
    """Fit on one thread: on these tiny frames OpenMP threads only add waiting, and a busy
    shared machine turns that waiting into seconds."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def book():
    return make_portfolio(3000, seed=3)


def _part(book, lo, hi):
    """The customers with lo <= id < hi, with their policies and claims."""
    pick = [f[f["customer_id"].between(lo, hi - 1)] for f in book[:3]]
    return pick


@pytest.mark.parametrize("min_policies", [300, 10**9])  # fitted model, then fallback
def test_partitioned_scoring_equals_a_single_pass(book, min_policies):
    pol = TierPolicy(model_min_policies=min_policies)
    stats = fit_portfolio_stats(*book[:3], book.as_of, pol)
    expected_kind = "credibility_fallback" if min_policies > 300 else ("poisson_glm", "hgb_poisson")
    assert stats.model.kind in expected_kind
    ids = book.customers["customer_id"]
    prev = pd.Series(np.where(ids % 3 == 0, "vip", "watchlist"), index=ids)
    overrides = pd.DataFrame(
        {"customer_id": [5, 1500, 2999], "tier": ["vip"] * 3, "expires_on": [None, book.as_of, None]}
    )
    args = dict(
        as_of=book.as_of,
        policy=pol,
        previous_tier=prev,
        overrides=overrides,
        model=stats.model,
        portfolio_lr=stats.portfolio_loss_ratio,
    )
    whole = score_portfolio(*book[:3], **args)
    parts = pd.concat(
        [score_portfolio(*_part(book, lo, hi), **args) for lo, hi in ((1, 1001), (1001, 2001), (2001, 3001))]
    )
    pd.testing.assert_frame_equal(parts, whole, check_exact=True)
    assert whole.loc[5, "reasons"][-1] == "M_OVERRIDE"
    assert "M_OVERRIDE" not in whole.loc[1500, "reasons"]
    for score in ("risk_score", "value_score"):  # published in whole points, raw features beside them
        assert whole[score].between(0, 100).all() and (whole[score] % 1 == 0).all()
        assert whole[score].nunique() > 20
    assert (whole["predicted_frequency"] % 1 != 0).any()
    assert set(whole["tier"]) == {"vip", "standard", "watchlist"}


@pytest.mark.parametrize("kind", ["poisson_glm", "hgb_poisson"])
def test_partitions_are_identical_with_either_fitted_model(book, kind):
    pol = TierPolicy()
    stats = fit_portfolio_stats(*book[:3], book.as_of, pol)
    train = build_training_frame(*book[:3], book.as_of, pol)
    model = fit_frequency_model(train, boosted_min_gain=1.0)  # the GLM, whatever the trees do
    if kind == "hgb_poisson":
        codes = Vocabulary(model.vocabulary).encode(train, CANDIDATES).astype(np.float64)
        trees = _hgb(0).fit(codes, train["claims"] / train["exposure"], sample_weight=train["exposure"])
        model = dataclasses.replace(model, kind=kind, estimator=trees, inputs=CANDIDATES)
    args = dict(model=model, portfolio_lr=stats.portfolio_loss_ratio)
    whole = score_portfolio(*book[:3], book.as_of, pol, **args)
    parts = pd.concat(
        [
            score_portfolio(*_part(book, lo, hi), book.as_of, pol, **args)
            for lo, hi in ((1, 700), (700, 2400), (2400, 3001))
        ]
    )
    pd.testing.assert_frame_equal(parts, whole, check_exact=True)
    assert whole["predicted_frequency"].nunique() > 50


def test_single_pass_without_stats_matches_the_two_pass_run(book):
    pol = TierPolicy()
    stats = fit_portfolio_stats(*book[:3], book.as_of, pol)
    one = score_portfolio(*book[:3], book.as_of, pol)
    two = score_portfolio(*book[:3], book.as_of, pol, model=stats.model, portfolio_lr=stats.portfolio_loss_ratio)
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_model_sample_bounds_the_training_rows(book):
    stats = fit_portfolio_stats(*book[:3], book.as_of, TierPolicy(), model_sample=1000)
    full = fit_portfolio_stats(*book[:3], book.as_of, TierPolicy())
    assert stats.model.n_rows < 0.4 * full.model.n_rows  # the rows of 1,000 customers out of 3,000
    assert stats.portfolio_loss_ratio == full.portfolio_loss_ratio


def test_synthetic_portfolio_is_seeded_and_has_rows_for_the_as_of_rule(book):
    again = make_portfolio(3000, seed=3)
    pd.testing.assert_frame_equal(book.claims, again.claims)
    assert (book.policies["start_date"] > pd.Timestamp(book.as_of)).any()
    assert (book.claims["report_date"] > pd.Timestamp(book.as_of)).any()
    assert 1.5 < len(book.policies) / 3000 < 2.5 and 2.0 < len(book.claims) / 3000 < 4.0


def test_value_score_by_hand():
    f = feature_frame(
        feature_row(annual_premium=0.0, long_term_regular=0, tenure_years=0.0, n_products=0),
        feature_row(annual_premium=1e6, long_term_regular=5, tenure_years=30.0, n_products=7),
        feature_row(
            annual_premium=math.expm1(math.log1p(100000) / 2), long_term_regular=1, tenure_years=10.0, n_products=2
        ),
    )
    v = value_score(f, TierPolicy())
    assert v.tolist() == pytest.approx([0.0, 100.0, 100 * (0.5 * 0.5 + 0.2 / 3 + 0.15 * 0.5 + 0.15 * 0.5)])


def test_risk_score_is_50_at_the_reference_rate():
    f = pd.Series([0.0, 0.2, 0.4])
    r = risk_score(f, 0.2 / math.log(2))
    assert r.tolist() == pytest.approx([0.0, 50.0, 75.0])


def test_diff_reports_tier_reason_and_rounded_score_changes():
    old = pd.DataFrame(
        {
            "tier": ["vip", "standard", "standard", "standard"],
            "reasons": [("V_PREMIUM",), (), (), ()],
            "value_score": [50.0, 10.0, 10.0, 10.0],
            "risk_score": [20.0, 20.0, 20.0, 20.0],
        },
        index=[1, 2, 3, 9],
    )
    new = pd.DataFrame(
        {
            "tier": ["vip", "standard", "standard", "watchlist"],
            "reasons": [("V_RETAINED",), (), (), ("W_FRAUD",)],
            "value_score": [50.0, 10.4, 10.6, 1.0],  # published in whole points
            "risk_score": [20.0, 20.0, 20.0, 5.0],
        },
        index=[1, 2, 3, 4],
    )
    d = diff_results(new, old)
    assert list(d.index) == [1, 3, 4]
    assert d.loc[1, "changed"] == ("reasons",)
    assert d.loc[3, "changed"] == ("value_score",)
    assert d.loc[4, "changed"] == ("tier", "reasons", "value_score", "risk_score")
    assert d.loc[1, "old_reasons"] == ("V_PREMIUM",) and d.loc[1, "new_tier"] == "vip"
    assert len(diff_results(new, new)) == 0
    # What a run keeps of each partition: the same customers, with their old tier.
    from segmentation.engine import changed_customers

    for before in (old, old.iloc[:0], None, new):
        kept = changed_customers(new, before)
        full = diff_results(new, before)
        assert list(kept.index) == list(full.index)
        assert kept.isna().tolist() == full["old_tier"].isna().tolist()
        assert kept.dropna().tolist() == full["old_tier"].dropna().tolist()
    assert changed_customers(new, old).tolist()[:2] == ["vip", "standard"]


# --- the tier policy ----------------------------------------------------------------------


def test_policy_defaults_and_round_trip():
    p = TierPolicy()
    assert (p.window_days, p.w_loss_ratio, p.v_premium, p.retain_vip_longterm_premium) == (1095, 1.20, 50000, 16000)
    assert TierPolicy.from_dict(p.to_dict()) == p
    assert TierPolicy.from_dict({"v_premium": 60000, "version": "b-2"}).v_premium == 60000


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"vip_premium": 1}, "vip_premium"),
        ({"window_days": 1095.5}, "window_days"),
        ({"w_loss_ratio": "1.2"}, "w_loss_ratio"),
        ({"v_premium": -1.0}, "v_premium"),
        ({"w_freq_claims_12m": True}, "w_freq_claims_12m"),
        ({"excluded_claim_statuses": [1]}, "excluded_claim_statuses"),
        ({"recent_days": 400}, "window_days"),
    ],
)
def test_policy_rejects_bad_values_naming_the_field(bad, field):
    with pytest.raises(ValueError, match=field):
        TierPolicy.from_dict(bad)


def test_explain_accepts_a_scored_row(book):
    scored = score_portfolio(*book[:3], book.as_of, TierPolicy())
    cid = scored.index[scored["tier"] == "watchlist"][0]
    items = explain(scored.loc[cid], TierPolicy())
    held = {i["code"] for i in items if i["holds"] and i["kind"] == "watchlist"}
    assert held == {c for c in scored.loc[cid, "computed_reasons"] if c.startswith("W_") and c != "W_RETAINED"}


def test_the_engine_imports_only_pandas_numpy_sklearn_and_the_standard_library():
    # threadpoolctl: scikit-learn's own control of its thread pools (one of its dependencies);
    # skops: the format that stores scikit-learn's estimators without pickle (model_format.py)
    allowed = {"numpy", "pandas", "sklearn", "threadpoolctl", "skops"} | set(sys.stdlib_module_names)
    for path in Path(segmentation.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
