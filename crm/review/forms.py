"""Forms of the review pages. Entry fields are text checked by the importer's parsers (entry.py)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DecimalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional

from crm.forms import Form
from crm.labels import label
from crm.review.outcomes import Conditions
from crm.validators import CLAIM_STATUSES, PAYMENT_MODES, POLICY_STATUSES, PRODUCT_TYPES


class ActionForm(Form):
    """Claim, close or assign: no fields besides the CSRF token."""


class DecideForm(Form):
    # No answer chosen in advance: the reviewer picks one (an empty choice is refused).
    decision = SelectField(
        _l("Decision"),
        choices=[("", _l("— choose —")), ("approved", _l("Approve")), ("rejected", _l("Reject"))],
        validators=[AnyOf(("approved", "rejected"), message=_l("Choose a decision."))],
    )
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(message=_l("A decision needs a reason.")), Length(max=500)]
    )
    # Underwriting only: an acceptance with conditions (shown on underwriting cases).
    loading_pct = DecimalField(
        _l("Premium loading (%)"), places=2, validators=[Optional(), NumberRange(min=Decimal("0.01"), max=500)]
    )
    exclusion = StringField(_l("Exclusion"), validators=[Optional(), Length(max=500)])

    def conditions(self) -> Conditions:
        return Conditions(self.loading_pct.data, (self.exclusion.data or "").strip() or None)


class EscalateForm(Form):
    reason = TextAreaField(
        _l("Why escalate"), validators=[DataRequired(message=_l("Say why you escalate.")), Length(max=500)]
    )


def _choices(values, group: str):
    """The stored codes as options, each shown by its label in the user's language."""
    return [(v, label(v, group)) for v in values]


class _EntryForm(Form):
    def row(self) -> dict[str, str]:
        """The fields as the text row the importer's parser takes."""
        data = {name: f.data or "" for name, f in self._fields.items() if name != "csrf_token"}
        if "fraud_suspected" in data:
            data["fraud_suspected"] = "1" if self.fraud_suspected.data else "0"
        return data


class PolicyEntryForm(_EntryForm):
    customer_ref = StringField(_l("Customer reference"), validators=[DataRequired(), Length(max=40)])
    policy_no = StringField(_l("Policy no."), validators=[DataRequired(), Length(max=40)])
    product_code = StringField(_l("Product code"), validators=[DataRequired(), Length(max=40)])
    product_type = SelectField(_l("Product"), choices=_choices(PRODUCT_TYPES, "product"))
    start_date = StringField(_l("Start date"), validators=[DataRequired()], render_kw={"type": "date"})
    end_date = StringField(
        _l("End date (first day without cover)"), validators=[DataRequired()], render_kw={"type": "date"}
    )
    term_years = StringField(_l("Term (years)"), validators=[DataRequired()])
    payment_mode = SelectField(_l("Payment"), choices=_choices(PAYMENT_MODES, "payment"))
    annual_premium = StringField(_l("Annual premium (CNY)"), validators=[DataRequired()])
    status = SelectField(_l("Status"), choices=_choices(POLICY_STATUSES, "policy_status"))


class ClaimEntryForm(_EntryForm):
    policy_no = StringField(_l("Policy no."), validators=[DataRequired(), Length(max=40)])
    claim_no = StringField(_l("Claim no."), validators=[DataRequired(), Length(max=40)])
    loss_date = StringField(_l("Loss date"), validators=[DataRequired()], render_kw={"type": "date"})
    report_date = StringField(_l("Report date"), validators=[DataRequired()], render_kw={"type": "date"})
    status = SelectField(_l("Status"), choices=_choices(CLAIM_STATUSES, "claim_status"))
    claimed_amount = StringField(_l("Claimed amount (CNY)"), validators=[DataRequired()])
    reserve_amount = StringField(_l("Outstanding reserve (CNY)"), default="0.00", validators=[DataRequired()])
    paid_amount = StringField(_l("Paid (CNY)"), default="0.00", validators=[DataRequired()])
    fraud_suspected = BooleanField(_l("Suspected fraud"))


class SettingsForm(Form):
    sla_underwriting_days = IntegerField(_l("Underwriting SLA (working days)"), validators=[NumberRange(1, 365)])
    sla_claims_days = IntegerField(_l("Claims SLA (working days)"), validators=[NumberRange(1, 365)])
    sla_vip_claims_days = IntegerField(_l("VIP claims SLA (working days)"), validators=[NumberRange(1, 365)])
    large_claim_amount = StringField(_l("Large claim above (CNY)"), validators=[DataRequired()])
    late_entry_days = IntegerField(_l("Late entry after (days)"), validators=[NumberRange(1, 365)])
    holidays = TextAreaField(_l("Holidays (YYYY-MM-DD, one a line)"), validators=[Optional()])
    auto_assign = BooleanField(_l("Assign open cases round-robin automatically"))
    note = StringField(_l("Why this change"), validators=[DataRequired(), Length(max=500)])
