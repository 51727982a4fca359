"""Forms of the benefits pages (CSRF by Flask-WTF; money as Decimal)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, DecimalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from crm.forms import Form
from crm.models.benefits import CASE_CATEGORIES

KIND_LABELS = {
    "health_checkup": _l("Health checkup"),
    "appointment_booking": _l("Appointment booking"),
    "partner_coupon": _l("Partner coupons"),
    "emergency_assistance": _l("Emergency assistance"),
}
PERIOD_LABELS = {"year": _l("a year"), "quarter": _l("a quarter"), "month": _l("a month")}
CASE_LABELS = {
    "medical_rescue": _l("Medical rescue"),
    "evacuation": _l("Evacuation"),
    "travel_assistance": _l("Travel assistance"),
    "lost_passport": _l("Lost passport"),
    "lost_luggage": _l("Lost luggage"),
    "security_crisis": _l("Security crisis"),
    "epidemic": _l("Epidemic"),
    "other": _l("Other"),
}
STATE_LABELS = {
    "requested": _l("Requested"),
    "confirmed": _l("Confirmed"),
    "attended": _l("Attended"),
    "no_show": _l("No-show"),
    "cancelled": _l("Booking cancelled"),
}
MONEY = dict(places=2, validators=[InputRequired(), NumberRange(min=0, max=10**11)])


class BenefitForm(Form):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Length(max=40),
            Regexp(r"^[a-z0-9_]+$", message=_l("Lower-case letters, digits and _.")),
        ],
    )
    tier = SelectField(
        _l("Tier"), choices=[("vip", _l("VIP")), ("standard", _l("Standard")), ("watchlist", _l("Watchlist"))]
    )
    kind = SelectField(_l("Kind"), choices=list(KIND_LABELS.items()))
    quota = IntegerField(_l("Quota"), validators=[InputRequired(), NumberRange(min=1, max=1000)])
    period = SelectField(_l("Period"), choices=list(PERIOD_LABELS.items()))
    unit_cost = DecimalField(_l("Unit cost (CNY)"), **MONEY)
    face_value = DecimalField(
        _l("Coupon face value (CNY)"), places=2, validators=[Optional(), NumberRange(min=0.01, max=10**6)]
    )
    cover_limit_usd = DecimalField(
        _l("Cover limit (USD)"), places=2, validators=[Optional(), NumberRange(min=1, max=10**11)]
    )
    note = StringField(_l("Reason for the change"), validators=[DataRequired(), Length(max=500)])


class PolicyForm(Form):
    cost_ceiling_pct = DecimalField(
        _l("Cost ceiling (percent of annual premium)"),
        places=2,
        validators=[InputRequired(), NumberRange(min=0, max=100)],
    )
    void_coupons_on_exit = BooleanField(_l("Void unredeemed coupons when a customer leaves the tier"))
    assistance_provider = StringField(_l("Assistance provider"), validators=[DataRequired(), Length(max=100)])
    note = StringField(_l("Reason for the change"), validators=[DataRequired(), Length(max=500)])


class NoteForm(Form):
    note = StringField(_l("Reason for the change"), validators=[DataRequired(), Length(max=500)])


class ProviderForm(Form):
    hospital = StringField(_l("Hospital"), validators=[DataRequired(), Length(max=100)])
    package = StringField(_l("Package"), validators=[DataRequired(), Length(max=100)])
    city = StringField(_l("City"), validators=[Length(max=50)])
    price = DecimalField(_l("Price (CNY)"), **MONEY)


class CheckupForm(Form):
    provider = SelectField(_l("Provider and package"), coerce=int, validators=[InputRequired()])
    preferred_date = DateField(_l("Preferred date"), validators=[InputRequired()])


class AppointmentForm(Form):
    hospital = StringField(_l("Hospital"), validators=[DataRequired(), Length(max=100)])
    department = StringField(_l("Department"), validators=[DataRequired(), Length(max=200)])
    preferred_date = DateField(_l("Preferred date"), validators=[InputRequired()])


class CouponForm(Form):
    partner = SelectField(_l("Partner merchant"), coerce=int, validators=[InputRequired()])
    expires_on = DateField(_l("Valid until"), validators=[InputRequired()])


class CaseForm(Form):
    category = SelectField(_l("Category"), choices=[(c, CASE_LABELS[c]) for c in CASE_CATEGORIES])
    country = StringField(_l("Country or region"), validators=[DataRequired(), Length(max=60)])
    summary = TextAreaField(_l("What happened"), validators=[DataRequired(), Length(max=500)])


class SpendForm(Form):
    amount_usd = DecimalField(
        _l("Amount (USD)"), places=2, validators=[InputRequired(), NumberRange(min=0.01, max=10**10)]
    )
    note = StringField(_l("Note"), validators=[Length(max=200)])
