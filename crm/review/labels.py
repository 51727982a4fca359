"""Review words in the user's language, for every template (the customer page's panel too)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from crm.ui import money

REASONS = {
    "watchlist_new_business": _l("Watchlist: new business"),
    "watchlist_policy_change": _l("Watchlist: policy changed"),
    "late_entry": _l("Late entry"),
    "watchlist_claim": _l("Watchlist: claim"),
    "large_claim": _l("Large claim"),
    "fraud_flag": _l("Suspected fraud"),
    "cover_after_loss": _l("Cover entered after the loss"),
    "vip_claim": _l("VIP claims channel"),
    "blacklist_new_business": _l("Black list: new business"),
    "blacklist_claim": _l("Black list: claim"),
}
STATES = {
    "open": _l("Open"),
    "in_review": _l("In review"),
    "escalated": _l("Escalated"),
    "approved": lazy_pgettext("review case", "Approved"),
    "rejected": lazy_pgettext("review case", "Rejected"),
    "closed": _l("Closed"),
}
STATE_FILTERS = {
    "active": _l("Active"),
    "open": _l("Open"),
    "in_review": _l("In review"),
    "escalated": _l("Escalated"),
    "decided": _l("Decided"),
    "closed": _l("Closed"),
}
QUEUES = {"underwriting": _l("Enhanced underwriting"), "claims": _l("Claims review")}
STATE_BADGES = {
    "open": "bg-primary",
    "in_review": "bg-info text-dark",
    "escalated": "bg-danger",
    "approved": "bg-success",
    "rejected": "bg-dark",
    "closed": "bg-secondary",
}


UW_OUTCOMES = {
    "accepted": _l("Accepted"),
    "accepted_with_conditions": _l("Accepted with conditions"),
    "declined": _l("Declined: never took effect"),
}


def uw_outcome_label(policy) -> str:
    """A policy's underwriting outcome with its conditions, e.g. "Accepted with conditions: loading 25.00%"."""
    if not policy.uw_outcome:
        return ""
    text = str(UW_OUTCOMES.get(policy.uw_outcome, policy.uw_outcome))
    conditions = []
    if policy.premium_loading_pct is not None:
        conditions.append(str(_l("premium loading %(pct)s%%", pct=policy.premium_loading_pct)))
    if policy.exclusion:
        conditions.append(str(_l("exclusion: %(text)s", text=policy.exclusion)))
    return text + (": " + "; ".join(conditions) if conditions else "")


# Why a case opened: the code routing stores (crm/review/routing.py, sweep.py,
# blacklist_routing.py) with its figures, said in the reader's language.
WHY = {
    "on_watchlist": _l("customer on the watchlist"),
    "on_blacklist": _l("customer on the black list"),
    "fraud_flagged": _l("flagged as suspected fraud"),
    "vip_channel": _l("VIP claims channel"),
    "over_large_claim": _l("claimed %(amount)s, over the large-claim threshold of %(threshold)s"),
    "cover_after_loss": _l("policy entered on %(entered)s, after the loss on %(loss)s"),
    "late_entry": _l("entered on %(entered)s, %(days)s days after the start on %(start)s"),
    "entered_watchlist": _l("customer entered the watchlist"),
    "entered_watchlist_not_started": _l("customer entered the watchlist; cover not started"),
    "entered_watchlist_void_request": _l("customer entered the watchlist; a void request waits"),
    "entered_vip": _l("customer entered VIP"),
}
_MONEY = ("amount", "threshold")
SETTINGS_VERSIONS = {"default": _l("default rules")}  # the version before an admin saves one


def case_why(code: str | None, params: dict | None, text: str | None = "") -> str:
    """Why a case opened, in the user's language: its code (WHY) with its figures; a case of an
    older version that the migration could not read keeps its sentence (``text``), as written."""
    sentence = WHY.get(code or "")
    if sentence is None:
        return text or ""
    values = {k: money(v) if k in _MONEY else v for k, v in (params or {}).items()}
    return str(sentence) % values


def register(state) -> None:
    """Blueprint hook: put the label helpers into every template of the app."""
    state.app.jinja_env.globals.update(
        review_reason=lambda code: REASONS.get(code, code),
        review_state=lambda code: STATES.get(code, code),
        review_state_filter=lambda code: STATE_FILTERS.get(code, code),
        review_queue=lambda code: QUEUES.get(code, code),
        review_badge=lambda code: STATE_BADGES.get(code, ""),
        uw_outcome_label=uw_outcome_label,
        review_why=case_why,
        review_settings_version=lambda version: SETTINGS_VERSIONS.get(version, version),
    )
