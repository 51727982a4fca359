"""The tier-policy editor's form: every threshold of segmentation.policy.TierPolicy, typed and
bounded (money as Decimal in the form, stored as the policy's numbers)."""

from __future__ import annotations

import dataclasses

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import DecimalField, FloatField, IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from crm.forms import Form
from crm.validators import CLAIM_STATUSES
from segmentation.policy import TierPolicy


def _days():
    return IntegerField(validators=[InputRequired(), NumberRange(min=1, max=3650)])


def _count(most: int = 1000):
    return IntegerField(validators=[InputRequired(), NumberRange(min=0, max=most)])


def _ratio(most: float = 100):
    return FloatField(validators=[InputRequired(), NumberRange(min=0, max=most)])


def _premium():
    return DecimalField(places=2, validators=[InputRequired(), NumberRange(min=0, max=10**9)])


@dataclasses.dataclass(frozen=True)
class Parameter:
    """How the editor presents one setting of the policy: what it is called, what it does,
    its unit and the rules (reason codes of crm.labels.TIER_REASONS, or "risk_score") it feeds."""

    label: object
    help: object
    unit: object
    feeds: tuple[str, ...]


DAYS, YEARS, CLAIMS, POLICIES = _l("days"), _l("years"), _l("claims"), _l("policies")
YUAN = "¥"
TIMES = lazy_pgettext("unit of a ratio", "×")
COUNTED = ("W_LOSS", "W_FREQ", "W_RETAINED")  # every rule that counts claims

PARAMETERS: dict[str, Parameter] = {
    "window_days": Parameter(
        _l("Look-back window"),
        _l("Claims, earned premium and exposure are counted over this many days ending with the as-of date."),
        DAYS,
        ("W_FRAUD", "W_LOSS", "W_RETAINED"),
    ),
    "last_year_days": Parameter(
        _l("Last year"), _l('The period of "claims in the last 12 months".'), DAYS, ("W_FREQ",)
    ),
    "recent_days": Parameter(
        _l("Recent period"),
        _l("A watchlist customer with a claim reported within this many days stays on the watchlist."),
        DAYS,
        ("W_RETAINED",),
    ),
    "credibility_k": Parameter(
        _l("Credibility constant"),
        _l(
            "How much exposure a customer's own loss ratio needs to count: its weight is exposure / "
            "(exposure + this). Higher: more weight on the portfolio's loss ratio."
        ),
        _l("years of exposure"),
        ("W_LOSS", "W_RETAINED"),
    ),
    "excluded_claim_statuses": Parameter(
        _l("Claim statuses that never count"),
        _l(
            "Claims in these statuses are not counted (codes, comma-separated); a suspected fraud counts in any status."
        ),
        "",
        COUNTED,
    ),
    "long_term_min_years": Parameter(
        _l("Long-term policy: minimum term"),
        _l("A regular-premium policy (not single premium) with at least this term counts as long-term."),
        YEARS,
        ("V_LONGTERM", "V_RETAINED"),
    ),
    "w_loss_min_claims": Parameter(
        _l("Loss maker: minimum claims"),
        _l("A customer is a large loss maker with at least this many claims in the look-back window …"),
        CLAIMS,
        ("W_LOSS",),
    ),
    "w_loss_ratio": Parameter(
        _l("Loss maker: loss ratio"),
        _l("… and a credibility-weighted loss ratio at least this high (1.20: claims 1.2 times the earned premium)."),
        TIMES,
        ("W_LOSS",),
    ),
    "w_freq_claims_12m": Parameter(
        _l("Frequent claims: claims in the last year"),
        _l("A customer with at least this many claims in the last year goes on the watchlist."),
        CLAIMS,
        ("W_FREQ",),
    ),
    "v_premium": Parameter(
        _l("VIP: annual premium"),
        _l("A customer whose annual premium in force reaches this becomes VIP."),
        YUAN,
        ("V_PREMIUM",),
    ),
    "v_longterm_premium": Parameter(
        _l("Long-term VIP: annual premium"),
        _l("A long-term customer becomes VIP from this annual premium …"),
        YUAN,
        ("V_LONGTERM",),
    ),
    "v_longterm_min_policies": Parameter(
        _l("Long-term VIP: long-term policies"),
        _l("… with at least this many long-term regular-premium policies in force …"),
        POLICIES,
        ("V_LONGTERM",),
    ),
    "v_longterm_tenure_years": Parameter(
        _l("Long-term VIP: tenure"),
        _l("… and a customer for at least this many years."),
        YEARS,
        ("V_LONGTERM",),
    ),
    "retain_vip_premium": Parameter(
        _l("Keep VIP: annual premium"),
        _l("A VIP without a watchlist trigger stays VIP while the annual premium is at least this …"),
        YUAN,
        ("V_RETAINED",),
    ),
    "retain_vip_longterm_premium": Parameter(
        _l("Keep VIP: premium with long-term policies"),
        _l("… or at least this, with long-term regular-premium policies in force …"),
        YUAN,
        ("V_RETAINED",),
    ),
    "retain_vip_longterm_min_policies": Parameter(
        _l("Keep VIP: long-term policies"),
        _l("… at least this many of them."),
        POLICIES,
        ("V_RETAINED",),
    ),
    "retain_watch_recent_claims": Parameter(
        _l("Keep on the watchlist: recent claims"),
        _l("A watchlist customer stays while at least this many claims were reported in the recent period …"),
        CLAIMS,
        ("W_RETAINED",),
    ),
    "retain_watch_min_claims": Parameter(
        _l("Keep on the watchlist: claims"),
        _l("… or with at least this many claims in the look-back window …"),
        CLAIMS,
        ("W_RETAINED",),
    ),
    "retain_watch_ratio": Parameter(
        _l("Keep on the watchlist: loss ratio"),
        _l("… and a credibility-weighted loss ratio at least this high."),
        TIMES,
        ("W_RETAINED",),
    ),
    "model_min_policies": Parameter(
        _l("Risk model: minimum policies"),
        _l(
            "Below this many policies in the portfolio the claim-frequency model is not fitted; the risk score falls back to credibility."
        ),
        POLICIES,
        ("risk_score",),
    ),
    "model_boosted_min_gain": Parameter(
        _l("Risk model: gain the boosted trees need"),
        _l(
            "Boosted trees replace the GLM only when their held-out deviance is lower by at least this share (0.02: 2 per cent)."
        ),
        _l("share"),
        ("risk_score",),
    ),
}
SECTIONS = (
    (
        _l("Windows and claims"),
        ("window_days", "last_year_days", "recent_days", "excluded_claim_statuses", "credibility_k"),
    ),
    (_l("Watchlist"), ("w_loss_min_claims", "w_loss_ratio", "w_freq_claims_12m")),
    (
        _l("VIP"),
        (
            "v_premium",
            "v_longterm_premium",
            "v_longterm_min_policies",
            "v_longterm_tenure_years",
            "long_term_min_years",
        ),
    ),
    (
        _l("Keeping a tier (hysteresis)"),
        (
            "retain_vip_premium",
            "retain_vip_longterm_premium",
            "retain_vip_longterm_min_policies",
            "retain_watch_recent_claims",
            "retain_watch_min_claims",
            "retain_watch_ratio",
        ),
    ),
    (_l("Risk score"), ("model_min_policies", "model_boosted_min_gain")),
)


class TierPolicyForm(Form):
    """Field names are the policy's (TIER_RULES.md names them so); each is labelled and
    described in the user's language (PARAMETERS)."""

    window_days = _days()
    last_year_days = _days()
    recent_days = _days()
    credibility_k = _ratio()
    excluded_claim_statuses = StringField(validators=[Optional(), Length(max=200)])
    long_term_min_years = _count(100)
    w_loss_min_claims = _count()
    w_loss_ratio = _ratio()
    w_freq_claims_12m = _count()
    v_premium = _premium()
    v_longterm_premium = _premium()
    v_longterm_min_policies = _count()
    v_longterm_tenure_years = _ratio()
    retain_vip_premium = _premium()
    retain_vip_longterm_premium = _premium()
    retain_vip_longterm_min_policies = _count()
    retain_watch_recent_claims = _count()
    retain_watch_min_claims = _count()
    retain_watch_ratio = _ratio()
    model_min_policies = _count(10_000_000)
    model_boosted_min_gain = _ratio(1)
    note = StringField(_l("Why the change"), validators=[Optional(), Length(max=500)])

    POLICY_FIELDS = tuple(f.name for f in dataclasses.fields(TierPolicy) if f.name != "version")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.POLICY_FIELDS:
            self[name].label.text = PARAMETERS[name].label

    def fill(self, policy: TierPolicy) -> None:
        """Show ``policy``'s values (the page's GET)."""
        data = {name: getattr(policy, name) for name in self.POLICY_FIELDS}
        data["excluded_claim_statuses"] = ",".join(policy.excluded_claim_statuses)
        self.process(data=data)

    def statuses(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in (self.excluded_claim_statuses.data or "").split(",") if s.strip())

    def validate_excluded_claim_statuses(self, field):
        unknown = [s for s in self.statuses() if s not in CLAIM_STATUSES]
        if unknown:
            raise ValidationError(_l("Unknown claim status: %(statuses)s.", statuses=", ".join(unknown)))

    def validate_recent_days(self, field):
        windows = (self.recent_days.data, self.last_year_days.data, self.window_days.data)
        if None not in windows and not windows[0] <= windows[1] <= windows[2]:
            raise ValidationError(
                _l(
                    "The windows must satisfy %(recent)s ≤ %(year)s ≤ %(window)s.",
                    recent=PARAMETERS["recent_days"].label,
                    year=PARAMETERS["last_year_days"].label,
                    window=PARAMETERS["window_days"].label,
                )
            )

    def policy_values(self) -> dict:
        """The submitted policy as TierPolicy.from_dict takes it (premiums as the policy's numbers)."""
        values = {name: self[name].data for name in self.POLICY_FIELDS}
        values["excluded_claim_statuses"] = self.statuses()
        return {k: float(v) if isinstance(self[k], DecimalField) else v for k, v in values.items()}

    def add_policy_error(self, error: ValueError) -> None:
        """Put TierPolicy's refusal ("field: why") under the field it names, else above the form."""
        name, _, why = str(error).partition(": ")
        if name in self.POLICY_FIELDS and why:
            self[name].errors = [*self[name].errors, why]
        else:
            self.form_errors.append(str(error))
