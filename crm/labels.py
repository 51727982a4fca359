"""Display labels of the codes the application stores, in the user's language.

One mapping per enumeration; templates read them through the ``label`` filter
(``{{ policy.status|label('policy_status') }}``) and code through ``label(code, group)``.
A code without a label (a benefit an admin added, a new reason) is shown as it is.
Machine formats (CSV exports, the command line, API codes) keep the codes themselves.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

KINDS = {
    "customers": _l("Customers"),
    "policies": _l("Policies"),
    "claims": _l("Claims"),
}
ENCODINGS = {
    "utf-8": _l("UTF-8 (CSV UTF-8, the default)"),
    "gb18030": _l("GB18030 / GBK (Excel's CSV on a Chinese Windows)"),
}
ROLES = {
    "admin": _l("Administrator"),
    "account_manager": _l("Account manager"),
    "underwriter": _l("Underwriter"),
    "claims_reviewer": _l("Claims reviewer"),
    "risk_officer": _l("Risk officer"),
    "partner_cashier": _l("Partner cashier"),
}
TIERS = {"vip": _l("VIP"), "standard": _l("Standard"), "watchlist": _l("Watchlist"), "new": _l("New customer")}
SOURCES = {
    "referral": _l("Referral"),
    "cold_visit": _l("Cold visit"),
    "community_event": _l("Community event"),
    "agent": _l("Agent"),
    "online": _l("Online"),
    "other": _l("Other"),
}
PRODUCT_TYPES = {
    "life": _l("Life"),
    "health": _l("Health"),
    "critical_illness": _l("Critical illness"),
    "accident": _l("Accident"),
    "property": _l("Property"),
    "motor": _l("Motor"),
    "travel": _l("Travel"),
}
PAYMENT_MODES = {
    "single": _l("Single premium"),
    "annual": _l("Annual"),
    "semiannual": _l("Semi-annual"),
    "quarterly": _l("Quarterly"),
    "monthly": _l("Monthly"),
}
POLICY_STATUSES = {
    "in_force": _l("In force"),
    "lapsed": _l("Lapsed"),
    "cancelled": _l("Cancelled"),
    "matured": _l("Matured"),
}
CLAIM_STATUSES = {
    "reported": _l("Reported"),
    "registered": _l("Registered"),
    "under_review": _l("Under review"),
    "approved": lazy_pgettext("claim status", "Approved"),
    "paid": _l("Paid"),
    "rejected": lazy_pgettext("claim status", "Rejected"),
    "withdrawn": _l("Withdrawn"),
}
JOB_STATES = {  # import jobs and tier runs
    "queued": _l("Queued"),
    "running": _l("Running"),
    "completed": _l("Completed"),
    "failed": _l("Failed"),
}
TRIGGERS = {"cli": _l("command line"), "scheduler": _l("scheduled"), "ui": _l("web page")}  # who started a run
TIER_REASONS = {
    "W_FRAUD": _l("Suspected fraud on a recent claim"),
    "W_LOSS": _l("Large loss maker"),
    "W_FREQ": _l("Frequent claims"),
    "W_RETAINED": _l("Kept on the watchlist"),
    "V_PREMIUM": _l("High annual premium"),
    "V_LONGTERM": _l("Long-term regular-premium customer"),
    "V_RETAINED": _l("Kept as VIP"),
    "M_OVERRIDE": _l("Tier set by hand"),
}
FEATURES = {
    "annual_premium": _l("Annual premium in force"),
    "tenure_years": _l("Tenure (years)"),
    "long_term_regular": _l("Long-term regular-premium policies"),
    "n_products": _l("Products"),
    "earned_premium": _l("Earned premium (3 years, 1/365)"),
    "exposure_years": _l("Exposure (years)"),
    "incurred": _l("Incurred claims (3 years)"),
    "claims_3y": _l("Claims (3 years)"),
    "claims_12m": _l("Claims (12 months)"),
    "claims_recent_180d": _l("Claims reported (180 days)"),
    "fraud_flag": _l("Fraud suspected"),
    "loss_ratio": _l("Loss ratio"),
    "credible_loss_ratio": _l("Credibility-weighted loss ratio"),
}
BENEFITS = {  # the default catalogue's codes; an admin's own codes are shown as they are
    "vip_checkup": _l("VIP health checkup"),
    "vip_coupons": _l("VIP partner coupons"),
    "vip_assistance": _l("VIP global emergency assistance"),
    "vip_appointments": _l("VIP hospital appointment booking"),
}
AUDIT_ACTIONS = {
    "assistance.case_opened": _l("Assistance case opened"),
    "assistance.ended": _l("Emergency assistance ended"),
    "assistance.enrolled": _l("Enrolled in emergency assistance"),
    "assistance.spend_recorded": _l("Assistance spend recorded"),
    "benefits.catalogue_saved": _l("Benefit catalogue saved"),
    "benefits.ceiling_exception_requested": _l("Cost ceiling exception requested"),
    "benefits.ceiling_exception_used": _l("Cost ceiling exception used"),
    "benefits.consumed": _l("Benefit used"),
    "benefits.granted": _l("Benefit granted"),
    "benefits.renewed": _l("Benefit renewed"),
    "claim.enter": _l("Claim entered"),
    "claim.create": _l("Claim created"),
    "claim.update": _l("Claim changed"),
    "claim.void": _l("Claim voided"),
    "coupon.issue": _l("Coupon issued"),
    "customer.create": _l("Customer created"),
    "customer.update": _l("Customer changed"),
    "customer.import_update": _l("Customer changed by an import"),
    "customer.reassign": _l("Account manager changed"),
    "customer.reveal": _l("Personal data revealed"),
    "data.export": _l("Data exported"),
    "health.booking_requested": _l("Health booking requested"),
    "import.completed": _l("Import completed"),
    "policy.create": _l("Policy created"),
    "policy.update": _l("Policy changed"),
    "policy.void": _l("Policy voided"),
    "review_case.assign": _l("Review case assigned"),
    "review_case.claim": lazy_pgettext("audit action", "Review case taken"),
    "review_case.close": _l("Review case closed"),
    "review_case.fast_track": _l("VIP fast track changed"),
    "review_case.decide": _l("Review case decided"),
    "review_case.escalate": _l("Review case escalated"),
    "review_case.open": _l("Review case opened"),
    "target.set": _l("Target set"),
    "tier.change": _l("Tier changed"),
    "tiers.changed": _l("Tier changed"),
    "tier_override.request": _l("Tier override requested"),
    "tier_override.approve": _l("Tier override approved"),
    "tier_override.revoke": _l("Tier override revoked"),
    "visit.log": _l("Visit logged"),
}

FLAGS = {"0": _l("no"), "1": _l("yes")}

GROUPS: dict[str, dict] = {
    "flag": FLAGS,
    "kind": KINDS,
    "encoding": ENCODINGS,
    "role": ROLES,
    "tier": TIERS,
    "source": SOURCES,
    "product": PRODUCT_TYPES,
    "payment": PAYMENT_MODES,
    "policy_status": POLICY_STATUSES,
    "claim_status": CLAIM_STATUSES,
    "status": {**POLICY_STATUSES, **CLAIM_STATUSES},  # a policy's or a claim's (the codes do not clash)
    "job_state": JOB_STATES,
    "trigger": TRIGGERS,
    "reason": TIER_REASONS,
    "feature": FEATURES,
    "benefit": BENEFITS,
    "audit_action": AUDIT_ACTIONS,
}


def label(code, group: str):
    """The label of ``code`` in ``group`` (a lazy string), or the code itself when it has none."""
    if code is None:
        return ""
    return GROUPS[group].get(code, code)


def tier_move(before, after) -> str:
    """A tier move as people say it, e.g. 'New customer → Standard' ('new' before a first tier)."""
    return f"{label(before or 'new', 'tier')} → {label(after, 'tier')}"


def kind_label(kind: str):
    return label(kind, "kind")


def register(app) -> None:
    app.jinja_env.filters.update(label=label)
    app.jinja_env.globals.update(label=label, tier_move=tier_move)
