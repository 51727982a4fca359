"""Forms of the workspace: a visit, a target, a team, a reassignment."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, DecimalField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from crm.clock import business_today
from crm.forms import Form
from crm.models.workspace import VISIT_KINDS

KIND_LABELS = {"visit": _l("Visit"), "call": _l("Follow-up call"), "event": _l("Event")}
METRIC_LABELS = {"long_term_premium": _l("New long-term regular premium (CNY)"), "visits": _l("Visits")}


class VisitForm(Form):
    kind = SelectField(_l("Kind"), choices=[(k, KIND_LABELS[k]) for k in VISIT_KINDS], validators=[DataRequired()])
    visit_date = DateField(_l("Date"), validators=[DataRequired()])
    outcome = TextAreaField(_l("Outcome"), validators=[DataRequired(), Length(max=1000)])
    next_step = StringField(_l("Next step"), validators=[Optional(), Length(max=500)])
    next_step_due = DateField(_l("Next step due"), validators=[Optional()])

    def validate_visit_date(self, field):
        if field.data and field.data > business_today():
            raise ValidationError(_l("A visit cannot be logged in advance."))

    def validate_next_step_due(self, field):
        if field.data and not (self.next_step.data or "").strip():
            raise ValidationError(_l("Say what the next step is."))
        if field.data and self.visit_date.data and field.data < self.visit_date.data:
            raise ValidationError(_l("The next step cannot be due before the visit."))


class TargetForm(Form):
    year = IntegerField(_l("Year"), validators=[DataRequired(), NumberRange(2000, 2100)])
    metric = SelectField(_l("Metric"), choices=list(METRIC_LABELS.items()), validators=[DataRequired()])
    subject = SelectField(_l("Manager or team"), validators=[DataRequired()])
    amount = DecimalField(_l("Annual plan"), places=2, validators=[DataRequired(), NumberRange(min=0)])


class TeamForm(Form):
    name = StringField(_l("Team name"), validators=[DataRequired(), Length(max=100)])
    members = SelectMultipleField(_l("Members"), coerce=int, validators=[Optional()])


class ReassignForm(Form):
    manager = SelectField(_l("New account manager"), coerce=int, validators=[DataRequired()])


class WarningThresholdsForm(Form):
    """The early-warning thresholds: shares in per cent, counts as whole numbers."""

    watchlist_share = DecimalField(
        _l("Watchlist share above (%)"), places=2, validators=[InputRequired(), NumberRange(0, 100)]
    )
    loss_ratio_by_tier = DecimalField(
        _l("Loss ratio of any tier above (%)"), places=2, validators=[InputRequired(), NumberRange(0, 10000)]
    )
    overdue_cases = IntegerField(_l("Overdue review cases above"), validators=[InputRequired(), NumberRange(0, 10**9)])
    benefit_cost_ratio = DecimalField(
        _l("Benefit cost ratio above (%)"), places=2, validators=[InputRequired(), NumberRange(0, 100)]
    )
    pending_over_180 = IntegerField(
        _l("Claims pending over 180 days above"), validators=[InputRequired(), NumberRange(0, 10**9)]
    )
