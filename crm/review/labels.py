"""Review words in the user's language, for every template (the customer page's panel too)."""

from __future__ import annotations

import re

from flask_babel import gettext as _
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


# The routing rules store why a case opened as a line of English (crm/review/routing.py,
# blacklist_routing.py); these are those lines, shown in the user's language. A line of
# another form (a case of an older version) is shown as it is.
_DETAILS = (
    (re.compile(r"customer on the watchlist"), lambda m: _("customer on the watchlist")),
    (re.compile(r"customer on the black list"), lambda m: _("customer on the black list")),
    (re.compile(r"flagged as suspected fraud"), lambda m: _("flagged as suspected fraud")),
    (re.compile(r"VIP claims channel"), lambda m: _("VIP claims channel")),
    (
        re.compile(r"claimed (?P<amount>[\d.]+) > (?P<threshold>[\d.]+)"),
        lambda m: _(
            "claimed %(amount)s, over the large-claim threshold of %(threshold)s",
            amount=money(m["amount"]),
            threshold=money(m["threshold"]),
        ),
    ),
    (
        re.compile(r"policy entered (?P<entered>[\d-]+), after the loss on (?P<loss>[\d-]+)"),
        lambda m: _("policy entered on %(entered)s, after the loss on %(loss)s", entered=m["entered"], loss=m["loss"]),
    ),
    (
        re.compile(r"entered (?P<entered>[\d-]+), (?P<days>\d+) days after the start (?P<start>[\d-]+)"),
        lambda m: _(
            "entered on %(entered)s, %(days)s days after the start on %(start)s",
            entered=m["entered"],
            days=m["days"],
            start=m["start"],
        ),
    ),
)
SETTINGS_VERSIONS = {"default": _l("default rules")}  # the version before an admin saves one


def case_detail(detail: str | None) -> str:
    """Why a case opened, in the user's language (see _DETAILS)."""
    for pattern, say in _DETAILS:
        match = pattern.fullmatch(detail or "")
        if match:
            return say(match)
    return detail or ""


def register(state) -> None:
    """Blueprint hook: put the label helpers into every template of the app."""
    state.app.jinja_env.globals.update(
        review_reason=lambda code: REASONS.get(code, code),
        review_state=lambda code: STATES.get(code, code),
        review_state_filter=lambda code: STATE_FILTERS.get(code, code),
        review_queue=lambda code: QUEUES.get(code, code),
        review_badge=lambda code: STATE_BADGES.get(code, ""),
        uw_outcome_label=uw_outcome_label,
        review_detail=case_detail,
        review_settings_version=lambda version: SETTINGS_VERSIONS.get(version, version),
    )
