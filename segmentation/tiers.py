"""Tiers from features: the triggers, the hysteresis and the overrides of TIER_RULES.md.

Each customer's reasons are kept as a bit mask while computing (one bit per reason code)
and turned into tuples of codes at the end, through a table of at most 256 tuples, so that
no Python code runs per customer.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .policy import TierPolicy

TIERS = ("vip", "standard", "watchlist")
# The order of the codes inside a reasons tuple: watchlist, then VIP, then the override.
REASON_CODES = (
    "W_FRAUD",
    "W_LOSS",
    "W_FREQ",
    "W_RETAINED",
    "V_PREMIUM",
    "V_LONGTERM",
    "V_RETAINED",
    "M_OVERRIDE",
)
BIT = {code: 1 << i for i, code in enumerate(REASON_CODES)}
_W_TRIGGERS = ("W_FRAUD", "W_LOSS", "W_FREQ")
_V_TRIGGERS = ("V_PREMIUM", "V_LONGTERM")
# The reasons of each set of REASON_CODES bits, in their order: every tuple the engine gives.
REASONS_OF_MASK = np.empty(1 << len(REASON_CODES), dtype=object)
for _mask in range(len(REASONS_OF_MASK)):
    REASONS_OF_MASK[_mask] = tuple(c for c in REASON_CODES if _mask & BIT[c])
# Every reasons value a customer can have, as stored: the codes joined by ";".
REASON_TEXTS = tuple(sorted({";".join(r) for r in REASONS_OF_MASK}))


def triggers(features: pd.DataFrame, policy: TierPolicy) -> dict[str, np.ndarray]:
    """Which watchlist and VIP triggers hold, one boolean array per reason code."""
    f, p = features, policy
    premium = f["annual_premium"].to_numpy()
    return {
        "W_FRAUD": f["fraud_flag"].to_numpy(dtype=bool),
        "W_LOSS": (f["claims_3y"].to_numpy() >= p.w_loss_min_claims)
        & (f["credible_loss_ratio"].to_numpy() >= p.w_loss_ratio),
        "W_FREQ": f["claims_12m"].to_numpy() >= p.w_freq_claims_12m,
        "V_PREMIUM": premium >= p.v_premium,
        "V_LONGTERM": (premium >= p.v_longterm_premium)
        & (f["long_term_regular"].to_numpy() >= p.v_longterm_min_policies)
        & (f["tenure_years"].to_numpy() >= p.v_longterm_tenure_years),
    }


def retention(features: pd.DataFrame, policy: TierPolicy) -> dict[str, np.ndarray]:
    """Whether the hysteresis conditions hold (whatever the previous tier was)."""
    f, p = features, policy
    premium = f["annual_premium"].to_numpy()
    return {
        "V_RETAINED": (premium >= p.retain_vip_premium)
        | (
            (premium >= p.retain_vip_longterm_premium)
            & (f["long_term_regular"].to_numpy() >= p.retain_vip_longterm_min_policies)
        ),
        "W_RETAINED": (f["claims_recent_180d"].to_numpy() >= p.retain_watch_recent_claims)
        | (
            (f["claims_3y"].to_numpy() >= p.retain_watch_min_claims)
            & (f["credible_loss_ratio"].to_numpy() >= p.retain_watch_ratio)
        ),
    }


def active_overrides(overrides: pd.DataFrame | None, as_of: dt.date | None) -> pd.DataFrame:
    """The overrides still in force at as_of (expires_on empty, or after as_of): ``tier`` and
    ``confirmed`` (a second person confirmed the pin; True when the frame has no such column).

    An override expires ON its expiry date. With several for one customer the last row
    wins. Raises ValueError on an unknown tier.
    """
    if overrides is None or len(overrides) == 0:
        return pd.DataFrame(
            {"tier": pd.Series(dtype=object), "confirmed": pd.Series(dtype=bool)},
            index=pd.Index([], dtype=np.int64, name="customer_id"),
        )
    o = overrides
    bad = set(o["tier"]) - set(TIERS)
    if bad:
        raise ValueError(f"overrides.tier: unknown tier {sorted(bad)!r}")
    if as_of is not None and "expires_on" in o.columns:
        expires = pd.to_datetime(o["expires_on"])
        o = o[expires.isna() | (expires > pd.Timestamp(as_of))]
    o = o.drop_duplicates("customer_id", keep="last")
    confirmed = o["confirmed"].fillna(0).astype(bool).to_numpy() if "confirmed" in o.columns else True
    return pd.DataFrame(
        {"tier": o["tier"].astype(object).to_numpy(), "confirmed": confirmed},
        index=pd.Index(o["customer_id"].to_numpy(np.int64), name="customer_id"),
    )


def pins_that_hold(pinned: np.ndarray, confirmed: np.ndarray, computed: np.ndarray) -> np.ndarray:
    """Which pins win over the computed tier: every pin, except one below the watchlist that no
    second person has confirmed when the rules compute watchlist — one person's word never
    keeps a customer off the watchlist (the watchlist applies until the pin is confirmed)."""
    has_pin = pd.notna(pinned)
    overruled = (computed == "watchlist") & (pinned != "watchlist") & ~confirmed
    return has_pin & ~overruled


def assign_tiers(
    features: pd.DataFrame,
    previous_tier: pd.Series | None = None,
    overrides: pd.DataFrame | None = None,
    policy: TierPolicy | None = None,
    portfolio_lr: float | None = None,
    *,
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """computed_tier/computed_reasons (rules + hysteresis) and tier/reasons (+ override).

    previous_tier: tier of the last completed run by customer_id (missing: none).
    overrides: customer_id, tier, expires_on and optionally confirmed (0/1; without the column
    every pin counts as confirmed); when as_of is given, expired ones are dropped, otherwise
    they are taken as already active. An unconfirmed pin below the watchlist gives way when
    the rules compute watchlist (pins_that_hold). portfolio_lr, when given, recomputes the
    credible loss ratio (so a caller can pass raw features and the portfolio's ratio).
    Raises ValueError on an unknown previous or override tier.
    """
    policy = policy or TierPolicy()
    if portfolio_lr is not None:
        from .features import credible_loss_ratio  # local: tiers otherwise needs no features

        features = features.assign(
            credible_loss_ratio=credible_loss_ratio(
                features["loss_ratio"].to_numpy(),
                features["exposure_years"].to_numpy(),
                portfolio_lr,
                policy.credibility_k,
            )
        )
    n = len(features)
    hold = triggers(features, policy)
    keep = retention(features, policy)
    mask = np.zeros(n, dtype=np.int64)
    for code, holds in hold.items():
        mask |= np.where(holds, BIT[code], 0)
    watch = (mask & sum(BIT[c] for c in _W_TRIGGERS)) != 0
    vip = (mask & sum(BIT[c] for c in _V_TRIGGERS)) != 0

    prev = _previous(previous_tier, features.index)
    # Hysteresis: a tier is kept, not entered, under the looser conditions.
    vip_kept = (prev == "vip") & ~watch & ~vip & keep["V_RETAINED"]
    watch_kept = (prev == "watchlist") & ~watch & keep["W_RETAINED"]
    mask |= np.where(vip_kept, BIT["V_RETAINED"], 0) | np.where(watch_kept, BIT["W_RETAINED"], 0)
    computed = np.where(watch | watch_kept, "watchlist", np.where(vip | vip_kept, "vip", "standard")).astype(object)

    active = active_overrides(overrides, as_of)
    pinned = active["tier"].reindex(features.index).to_numpy(dtype=object)
    confirmed = active["confirmed"].reindex(features.index, fill_value=False).to_numpy(dtype=bool)
    has_pin = pins_that_hold(pinned, confirmed, computed)
    final = np.where(has_pin, pinned, computed)
    final_mask = mask | np.where(has_pin, BIT["M_OVERRIDE"], 0)
    return pd.DataFrame(
        {
            "computed_tier": computed,
            "computed_reasons": REASONS_OF_MASK[mask],
            "tier": final.astype(object),
            "reasons": REASONS_OF_MASK[final_mask],
        },
        index=features.index,
    )


def _previous(previous_tier: pd.Series | None, index: pd.Index) -> np.ndarray:
    """The previous tier aligned on index ('' where there was none)."""
    if previous_tier is None:
        return np.full(len(index), "", dtype=object)
    prev = previous_tier.reindex(index).astype(object)
    bad = set(prev.dropna()) - set(TIERS)
    if bad:
        raise ValueError(f"previous_tier: unknown tier {sorted(bad)!r}")
    return prev.fillna("").to_numpy(dtype=object)


def explain(row: pd.Series, policy: TierPolicy | None = None) -> list[dict]:
    """Why a customer has (or lacks) each trigger, for the customer page.

    `row` is one customer's features (a row of compute_features or score_portfolio). Each
    item: code, kind ('watchlist' | 'vip' | 'retention'), holds, value and threshold
    (dicts by feature name), and `change`: in plain English, what would change the outcome.
    The app translates the codes; `change` is a default wording for logs and tooltips.
    """
    p = policy or TierPolicy()
    r = row
    prem, lt = float(r["annual_premium"]), int(r["long_term_regular"])
    c3, c12 = int(r["claims_3y"]), int(r["claims_12m"])
    clr, tenure = float(r["credible_loss_ratio"]), float(r["tenure_years"])
    recent = int(r["claims_recent_180d"])
    frame = r.to_frame().T.infer_objects()
    hold = {k: bool(v[0]) for k, v in triggers(frame, p).items()}
    keep = {k: bool(v[0]) for k, v in retention(frame, p).items()}

    def item(code, kind, holds, value, threshold, change):
        return {"code": code, "kind": kind, "holds": holds, "value": value, "threshold": threshold, "change": change}

    more_claims = max(p.w_loss_min_claims - c3, 0)
    items = [
        item(
            "W_FRAUD",
            "watchlist",
            hold["W_FRAUD"],
            {"fraud_flag": bool(r["fraud_flag"])},
            {"fraud_flag": True},
            f"The trigger lifts when no claim suspected of fraud has its loss date in the last {p.window_days} days."
            if hold["W_FRAUD"]
            else "A claim suspected of fraud, whatever its status, would put the customer on the watchlist.",
        ),
        item(
            "W_LOSS",
            "watchlist",
            hold["W_LOSS"],
            {"claims_3y": c3, "credible_loss_ratio": clr},
            {"claims_3y": p.w_loss_min_claims, "credible_loss_ratio": p.w_loss_ratio},
            f"The trigger lifts when fewer than {p.w_loss_min_claims} counting claims remain "
            f"in the window or the credible loss ratio falls below {p.w_loss_ratio:.2f}."
            if hold["W_LOSS"]
            else f"It would hold with {more_claims} more counting claim(s) in the window and a "
            f"credible loss ratio of at least {p.w_loss_ratio:.2f} (now {clr:.2f}).",
        ),
        item(
            "W_FREQ",
            "watchlist",
            hold["W_FREQ"],
            {"claims_12m": c12},
            {"claims_12m": p.w_freq_claims_12m},
            f"The trigger lifts when fewer than {p.w_freq_claims_12m} counting claims have "
            f"a loss date in the last {p.last_year_days} days (now {c12})."
            if hold["W_FREQ"]
            else f"{p.w_freq_claims_12m - c12} more counting claim(s) with a loss in the last "
            f"{p.last_year_days} days would put the customer on the watchlist.",
        ),
        item(
            "V_PREMIUM",
            "vip",
            hold["V_PREMIUM"],
            {"annual_premium": prem},
            {"annual_premium": p.v_premium},
            f"Annual premium in force below {p.v_premium:,.2f} would lift the trigger."
            if hold["V_PREMIUM"]
            else f"A further {p.v_premium - prem:,.2f} of annual premium in force would make "
            "the customer a VIP, unless a watchlist trigger holds.",
        ),
        item(
            "V_LONGTERM",
            "vip",
            hold["V_LONGTERM"],
            {"annual_premium": prem, "long_term_regular": lt, "tenure_years": tenure},
            {
                "annual_premium": p.v_longterm_premium,
                "long_term_regular": p.v_longterm_min_policies,
                "tenure_years": p.v_longterm_tenure_years,
            },
            "The trigger lifts if the premium, the long-term regular-premium policies or "
            "the tenure fall below their thresholds."
            if hold["V_LONGTERM"]
            else _longterm_gap(prem, lt, tenure, p),
        ),
        item(
            "V_RETAINED",
            "retention",
            keep["V_RETAINED"],
            {"annual_premium": prem, "long_term_regular": lt},
            {"annual_premium": p.retain_vip_premium, "annual_premium_with_long_term": p.retain_vip_longterm_premium},
            f"A current VIP stays VIP while the annual premium is at least "
            f"{p.retain_vip_premium:,.2f}, or {p.retain_vip_longterm_premium:,.2f} with a "
            "long-term regular-premium policy, and no watchlist trigger holds.",
        ),
        item(
            "W_RETAINED",
            "retention",
            keep["W_RETAINED"],
            {"claims_recent_180d": recent, "claims_3y": c3, "credible_loss_ratio": clr},
            {
                "claims_recent_180d": p.retain_watch_recent_claims,
                "claims_3y": p.retain_watch_min_claims,
                "credible_loss_ratio": p.retain_watch_ratio,
            },
            f"A watchlist customer leaves the watchlist once no counting claim was reported "
            f"in the last {p.recent_days} days and not (at least "
            f"{p.retain_watch_min_claims} claims in the window with a credible loss ratio of "
            f"at least {p.retain_watch_ratio:.2f}).",
        ),
    ]
    return items


def _longterm_gap(prem: float, lt: int, tenure: float, p: TierPolicy) -> str:
    """Plain words for what V_LONGTERM still lacks."""
    gaps = []
    if prem < p.v_longterm_premium:
        gaps.append(f"{p.v_longterm_premium - prem:,.2f} more annual premium in force")
    if lt < p.v_longterm_min_policies:
        gaps.append(f"a long-term (>= {p.long_term_min_years} years) regular-premium policy")
    if tenure < p.v_longterm_tenure_years:
        gaps.append(f"{p.v_longterm_tenure_years - tenure:.2f} more years of tenure")
    return "It would hold with " + " and ".join(gaps) + "."
