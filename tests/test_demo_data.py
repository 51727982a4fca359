"""Tests of crm.demo_data: shape, validity of every field, consistency and realism."""

import io
from datetime import date

import numpy as np
import pandas as pd
import pytest

from crm import validators as v
from crm.demo_data import CITIES, CLAIM_COLUMNS, CUSTOMER_COLUMNS, POLICY_COLUMNS, generate_portfolio

AS_OF = date(2026, 11, 24)  # a fixed date: the generator's output depends on it
MANAGERS = ["am1@example.cn", "am2@example.cn", "am3@example.cn"]
OPEN = {"reported", "registered", "under_review", "approved"}


@pytest.fixture(scope="module")
def portfolio():
    return generate_portfolio(5000, 7, AS_OF, MANAGERS)


def _days(series: pd.Series) -> np.ndarray:
    return series.to_numpy().astype("M8[D]")


def _money(series: pd.Series) -> np.ndarray:
    return series.astype(float).to_numpy()


def portfolio_loss_ratio(portfolio, as_of: date) -> float:
    """Σ (paid + reserve) of counting claims / Σ earned premium (1/365 method) over
    the 1,095 days ending with ``as_of`` (TIER_RULES.md)."""
    d = np.datetime64(as_of, "D")
    window_start = d - 1094
    pol, clm = portfolio.policies, portfolio.claims
    covered = (np.minimum(_days(pol.end_date), d + 1) - np.maximum(_days(pol.start_date), window_start)).astype(int)
    earned = np.sum(_money(pol.annual_premium) * np.clip(covered, 0, None) / 365)
    loss, report = _days(clm.loss_date), _days(clm.report_date)
    counts = (
        (report <= d) & (loss >= window_start) & (loss <= d) & ~clm.status.isin(["rejected", "withdrawn"]).to_numpy()
    )
    incurred = np.sum((_money(clm.paid_amount) + _money(clm.reserve_amount))[counts])
    return incurred / earned


def default_tiers(portfolio, as_of: date) -> pd.DataFrame:
    """The default tier triggers of TIER_RULES.md (no hysteresis, no overrides), computed
    directly from the frames; one boolean column per reason code, indexed by customer."""
    d = np.datetime64(as_of, "D")
    window_start = d - 1094
    pol, clm = portfolio.policies, portfolio.claims
    start, end = _days(pol.start_date), _days(pol.end_date)
    premium = _money(pol.annual_premium)
    in_force = (start <= d) & (d < end)
    covered = (np.minimum(end, d + 1) - np.maximum(start, window_start)).astype(int)
    covered = np.clip(covered, 0, None)
    per_policy = pd.DataFrame(
        {
            "ref": pol.customer_ref.to_numpy(),
            "premium": np.where(in_force, premium, 0),
            "ltr": in_force & (pol.term_years.astype(int).to_numpy() >= 10) & (pol.payment_mode.to_numpy() != "single"),
            "earned": premium * covered / 365,
            "exposure": covered / 365,
            "tenure": np.where(start <= d, (d - start).astype(int) / 365, 0),
        }
    )
    f = per_policy.groupby("ref").agg(
        premium=("premium", "sum"),
        ltr=("ltr", "sum"),
        earned=("earned", "sum"),
        exposure=("exposure", "sum"),
        tenure=("tenure", "max"),
    )
    loss, report = _days(clm.loss_date), _days(clm.report_date)
    seen = (report <= d) & (loss >= window_start) & (loss <= d)
    counts = seen & ~clm.status.isin(["rejected", "withdrawn"]).to_numpy()
    owner = clm.policy_no.map(dict(zip(pol.policy_no, pol.customer_ref)))
    per_claim = pd.DataFrame(
        {
            "ref": owner.to_numpy(),
            "incurred": np.where(counts, _money(clm.paid_amount) + _money(clm.reserve_amount), 0),
            "c3": counts,
            "c12": counts & (loss >= d - 364),
            "fraud": seen & (clm.fraud_suspected.to_numpy() == "1"),
        }
    )
    f = f.join(per_claim.groupby("ref").sum()).fillna(0)
    plr = f.incurred.sum() / f.earned.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.where((f.incurred == 0) & (f.earned == 0), 0.0, f.incurred / f.earned)
    z = f.exposure / (f.exposure + 3)
    credible = z * lr + (1 - z) * plr
    out = pd.DataFrame(
        {
            "W_FRAUD": f.fraud > 0,
            "W_LOSS": (f.c3 >= 2) & (credible >= 1.2),
            "W_FREQ": f.c12 >= 4,
            "V_PREMIUM": f.premium >= 50000,
            "V_LONGTERM": (f.premium >= 20000) & (f.ltr >= 1) & (f.tenure >= 3),
        }
    )
    out["watchlist"] = out.W_FRAUD | out.W_LOSS | out.W_FREQ
    out["vip"] = ~out.watchlist & (out.V_PREMIUM | out.V_LONGTERM)
    return out


def test_deterministic_for_a_seed():
    a = generate_portfolio(300, 42, AS_OF, MANAGERS)
    b = generate_portfolio(300, 42, AS_OF, MANAGERS)
    c = generate_portfolio(300, 43, AS_OF, MANAGERS)
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    assert not a.customers.equals(c.customers)


def test_columns_are_the_contracts(portfolio):
    assert (
        list(portfolio.customers.columns)
        == CUSTOMER_COLUMNS
        == ["customer_ref", "name", "id_number", "phone", "city", "source", "referred_by", "account_manager"]
    )
    assert list(portfolio.policies.columns) == POLICY_COLUMNS
    assert list(portfolio.claims.columns) == CLAIM_COLUMNS
    for frame in portfolio:
        assert all(isinstance(x, str) for col in frame for x in frame[col])


def test_csv_round_trip(portfolio):
    for frame in portfolio:
        text = frame.to_csv(index=False)
        back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_every_customer_field_validates(portfolio):
    cust = portfolio.customers
    regions = {c: set(codes) for c, (_, _, codes) in CITIES.items()}
    for row in cust.itertuples():
        parsed = v.parse_id_number(row.id_number)
        assert parsed.number == row.id_number
        assert parsed.region_code in regions[row.city]
        age = (AS_OF - parsed.birth_date).days / 365.2425
        assert 18 <= age <= 80.01
        assert v.parse_phone(row.phone) == row.phone
        v.parse_enum(row.source, v.SOURCES)
        assert 2 <= len(row.name) <= 4
        assert row.account_manager in MANAGERS or row.account_manager == ""
    for col in ("customer_ref", "id_number", "phone"):
        assert cust[col].is_unique


def test_every_policy_field_validates(portfolio):
    refs = set(portfolio.customers.customer_ref)
    for row in portfolio.policies.itertuples():
        assert row.customer_ref in refs
        start, end = v.parse_date(row.start_date), v.parse_date(row.end_date)
        assert start < end and start <= AS_OF
        term = v.parse_int(row.term_years, 0, 100)
        v.parse_enum(row.product_type, v.PRODUCT_TYPES)
        v.parse_enum(row.payment_mode, v.PAYMENT_MODES)
        v.parse_enum(row.status, v.POLICY_STATUSES)
        assert v.parse_money(row.annual_premium) > 0
        assert row.product_code
        if row.status == "in_force":
            assert end > AS_OF
        else:
            assert end <= AS_OF
        if row.product_type in ("life", "critical_illness"):
            assert term in (10, 20, 30)
        elif row.product_type == "travel":
            assert term == 0 and (end - start).days <= 30 and row.payment_mode == "single"
        elif row.status in ("in_force", "matured"):
            assert term == 1 and 365 <= (end - start).days <= 366
    assert portfolio.policies.policy_no.is_unique
    assert set(portfolio.policies.customer_ref) == refs  # everyone holds a policy


def test_every_claim_field_validates(portfolio):
    policies = portfolio.policies.set_index("policy_no")
    for row in portfolio.claims.itertuples():
        loss, report = v.parse_date(row.loss_date), v.parse_date(row.report_date)
        policy = policies.loc[row.policy_no]
        assert v.parse_date(policy.start_date) <= loss < v.parse_date(policy.end_date)
        assert loss <= report <= AS_OF
        status = v.parse_enum(row.status, v.CLAIM_STATUSES)
        claimed, reserve, paid = (v.parse_money(x) for x in (row.claimed_amount, row.reserve_amount, row.paid_amount))
        v.parse_bool01(row.fraud_suspected)
        assert claimed >= paid and claimed > 0
        if status in OPEN:
            assert reserve > 0 and paid == 0
        elif status == "paid":
            assert reserve == 0 and paid > 0
        else:
            assert reserve == 0 and paid == 0
    assert portfolio.claims.claim_no.is_unique


def test_claim_statuses_follow_age(portfolio):
    clm = portfolio.claims
    age = (np.datetime64(AS_OF, "D") - _days(clm.report_date)).astype(int)
    recent_open = clm.status[age < 10].isin(OPEN).mean()
    old_open = clm.status[age > 365].isin(OPEN).mean()
    assert recent_open > 0.8 and old_open < 0.05
    assert 0.003 <= (clm.fraud_suspected == "1").mean() <= 0.02


def test_referral_chains_point_backwards(portfolio):
    cust = portfolio.customers
    position = {ref: i for i, ref in enumerate(cust.customer_ref)}
    referral = cust.source == "referral"
    assert ((cust.referred_by != "") == referral).all()
    assert 0.25 <= referral.mean() <= 0.35
    for i, ref in enumerate(cust.referred_by):
        assert ref == "" or position[ref] < i
    referrers = set(cust.referred_by[referral])
    chained = cust[referral & cust.customer_ref.isin(referrers)]
    assert len(chained) > 50  # referred customers who referred others in turn


def test_account_managers(portfolio):
    cust, pol = portfolio.customers, portfolio.policies
    assigned = cust.account_manager != ""
    assert 0.65 <= assigned.mean() <= 0.75
    in_force = pol[pol.status == "in_force"]
    premium = in_force.annual_premium.astype(float).groupby(in_force.customer_ref).sum()
    big = premium[premium >= 20000].index
    assert len(big) and assigned[cust.customer_ref.isin(big)].all()
    nobody = generate_portfolio(50, 1, AS_OF, [])
    assert (nobody.customers.account_manager == "").all()


def test_premiums_by_product(portfolio):
    pol = portfolio.policies
    premium = pol.annual_premium.astype(float)
    bounds = {
        "life": (3000, 80000),
        "critical_illness": (2000, 30000),
        "health": (500, 8000),
        "accident": (100, 1000),
        "motor": (2000, 12000),
        "property": (300, 3000),
    }
    for product, (low, high) in bounds.items():
        values = premium[pol.product_type == product]
        assert len(values) and low <= values.min() and values.max() <= high, product
    assert set(pol.product_type) == set(v.PRODUCT_TYPES)
    assert pol.customer_ref.value_counts().max() > 4  # renewals are separate policies


def test_claim_frequency_depends_on_product(portfolio):
    pol, clm = portfolio.policies, portfolio.claims
    counts = clm.policy_no.value_counts()
    years = (np.minimum(_days(pol.end_date), np.datetime64(AS_OF, "D")) - _days(pol.start_date)).astype(int) / 365
    per_policy = pd.DataFrame({"type": pol.product_type, "claims": pol.policy_no.map(counts).fillna(0), "years": years})
    rate = per_policy.groupby("type").sum().eval("claims / years")
    assert rate["motor"] > 5 * rate["life"] and rate["health"] > 5 * rate["life"]


def test_loss_ratio_and_tier_shares(portfolio):
    assert 0.50 <= portfolio_loss_ratio(portfolio, AS_OF) <= 0.70
    tiers = default_tiers(portfolio, AS_OF)
    shares = tiers.mean()
    print("\nn=5000 shares:", shares.round(4).to_dict())
    assert 0.03 <= shares.vip <= 0.08
    assert 0.02 <= shares.watchlist <= 0.06
    assert shares.V_PREMIUM >= 0.005  # some customers pay over 50,000 a year
    assert shares.W_FREQ > 0 and shares.W_FRAUD > 0


def test_100k_customers_have_unique_references_and_id_numbers():
    """At scale, where collisions would show (how fast it is: benchmarks/, not a timing assert)."""
    big = generate_portfolio(100_000, 1, AS_OF, MANAGERS)
    assert len(big.customers) == 100_000
    assert big.customers.customer_ref.is_unique and big.customers.id_number.is_unique
