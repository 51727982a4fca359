"""The tier-policy editor's form: every threshold of segmentation.policy.TierPolicy, typed and
bounded (money as Decimal in the form, stored as the policy's numbers)."""

from __future__ import annotations

import dataclasses

from flask_babel import lazy_gettext as _l
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


class TierPolicyForm(Form):
    """Field names are the policy's (TIER_RULES.md names them so); the page shows them as such."""

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
            self[name].label.text = name

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
            raise ValidationError(_l("The windows must satisfy recent_days ≤ last_year_days ≤ window_days."))

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
