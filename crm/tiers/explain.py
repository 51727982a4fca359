"""Why a customer is in their tier: the features behind each trigger, computed live."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.jobs import frames
from crm.models import CustomerTier, TierHistory, TierRun
from crm.tiers.policy import current_policy
from crm.ui import money
from segmentation.features import compute_features
from segmentation.policy import TierPolicy
from segmentation.tiers import explain


@dataclass
class Explanation:
    as_of: dt.date
    features: dict
    items: list[dict]
    portfolio_loss_ratio: float | None


def explain_customer(session: Session, customer_id: int, as_of: dt.date | None = None) -> Explanation | None:
    """The customer's features and every trigger, as of the last published run's date."""
    last = session.scalar(
        select(TierRun)
        .where(TierRun.state == "completed", TierRun.mode == "publish")
        .order_by(TierRun.id.desc())
        .limit(1)
    )
    if last is None:
        return None
    as_of = as_of or last.as_of
    policy = current_policy(session)
    part = frames.load_partition(session.connection(), customer_id, customer_id + 1, as_of)
    if part["customers"].empty:
        return None
    feats = compute_features(
        part["customers"],
        part["policies"],
        part["claims"],
        as_of,
        policy,
        portfolio_lr=last.portfolio_loss_ratio or 0.0,
    )
    row = feats.iloc[0]
    items = explain(row, policy)
    for item in items:
        item["change"] = what_would_change(item, policy)
    return Explanation(
        as_of,
        {k: (float(v) if hasattr(v, "__float__") else v) for k, v in row.items()},
        items,
        last.portfolio_loss_ratio,
    )


def what_would_change(item: dict, p: TierPolicy) -> str:
    """What would change the outcome of one rule (an item of segmentation.tiers.explain), in
    the user's language, amounts as money (the engine's own wording is English and plain)."""
    code, holds, v = item["code"], item["holds"], item["value"]
    if code == "W_FRAUD":
        if holds:
            return _(
                "The trigger lifts when no claim suspected of fraud has its loss date in the last %(days)s days.",
                days=p.window_days,
            )
        return _("A claim suspected of fraud, whatever its status, would put the customer on the watchlist.")
    if code == "W_LOSS":
        if holds:
            return _(
                "The trigger lifts when fewer than %(n)s counting claims remain in the window or the "
                "credibility-weighted loss ratio falls below %(ratio).2f.",
                n=p.w_loss_min_claims,
                ratio=p.w_loss_ratio,
            )
        return _(
            "It would hold with %(more)s more counting claims in the window and a credibility-weighted "
            "loss ratio of at least %(ratio).2f (now %(now).2f).",
            more=max(p.w_loss_min_claims - v["claims_3y"], 0),
            ratio=p.w_loss_ratio,
            now=v["credible_loss_ratio"],
        )
    if code == "W_FREQ":
        if holds:
            return _(
                "The trigger lifts when fewer than %(n)s counting claims have a loss date in the last "
                "%(days)s days (now %(now)s).",
                n=p.w_freq_claims_12m,
                days=p.last_year_days,
                now=v["claims_12m"],
            )
        return _(
            "%(more)s more counting claims with a loss in the last %(days)s days would put the customer on "
            "the watchlist.",
            more=max(p.w_freq_claims_12m - v["claims_12m"], 0),
            days=p.last_year_days,
        )
    if code == "V_PREMIUM":
        if holds:
            return _("Annual premium in force below %(amount)s would lift the trigger.", amount=money(p.v_premium))
        return _(
            "A further %(amount)s of annual premium in force would make the customer a VIP, unless a "
            "watchlist trigger holds.",
            amount=money(max(p.v_premium - v["annual_premium"], 0)),
        )
    if code == "V_LONGTERM":
        if holds:
            return _(
                "The trigger lifts if the premium, the long-term regular-premium policies or the tenure "
                "fall below their thresholds."
            )
        gaps = []
        if v["annual_premium"] < p.v_longterm_premium:
            gaps.append(
                _("%(amount)s more annual premium in force", amount=money(p.v_longterm_premium - v["annual_premium"]))
            )
        if v["long_term_regular"] < p.v_longterm_min_policies:
            gaps.append(_("a regular-premium policy of %(years)s years or more", years=p.long_term_min_years))
        if v["tenure_years"] < p.v_longterm_tenure_years:
            gaps.append(_("%(years).2f more years as a customer", years=p.v_longterm_tenure_years - v["tenure_years"]))
        return _("It would hold with %(gaps)s.", gaps=_("; ").join(gaps))
    if code == "V_RETAINED":
        return _(
            "A current VIP stays VIP while the annual premium is at least %(premium)s, or %(long_term)s "
            "with a long-term regular-premium policy, and no watchlist trigger holds.",
            premium=money(p.retain_vip_premium),
            long_term=money(p.retain_vip_longterm_premium),
        )
    if code == "W_RETAINED":
        return _(
            "A watchlist customer leaves the watchlist once no counting claim was reported in the last "
            "%(days)s days, unless there are at least %(n)s claims in the window with a credibility-weighted "
            "loss ratio of at least %(ratio).2f.",
            days=p.recent_days,
            n=p.retain_watch_min_claims,
            ratio=p.retain_watch_ratio,
        )
    return item["change"]


def history(session: Session, customer_id: int, limit: int = 50) -> list[TierHistory]:
    """The customer's last ``limit`` states, oldest first: the states they left, then the
    current one (as an unsaved TierHistory row)."""
    current = session.get(CustomerTier, customer_id)
    if current is None:
        return []
    left = list(
        session.scalars(
            select(TierHistory)
            .where(TierHistory.customer_id == customer_id)
            .order_by(TierHistory.id.desc())
            .limit(limit - 1)
        )
    )[::-1]
    return left + [TierHistory.of(current)]
