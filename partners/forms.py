"""Forms of the merchant portal and the partner administration pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import DateField, DecimalField, EmailField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from crm.forms import Form
from partners.models import CATEGORIES

CATEGORY_LABELS = {
    "dining": _l("Dining"),
    "hotel": _l("Hotel"),
    "fitness": _l("Fitness"),
    "shopping": _l("Shopping"),
    "entertainment": _l("Entertainment"),
}


class LookupForm(Form):
    """GET: the code a cashier types or a scanner types in (no state changes, no CSRF)."""

    class Meta:
        csrf = False

    code = StringField(_l("Coupon code (type or scan)"), validators=[DataRequired(), Length(max=40)])


class RedeemForm(Form):
    code = HiddenField(validators=[DataRequired(), Length(max=40)])
    # A fresh key per rendered form: a double click or a resubmitted page redeems once.
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=100)])
    amount = DecimalField(
        _l("Amount used (default: the face value)"),
        places=2,
        validators=[Optional(), NumberRange(min=0.01, max=100000)],
    )
    # Checked by the redemption service (one of the partner's stores), like the API's store_id.
    store_id = SelectField(_l("Store"), choices=[], validate_choice=False)


class VoidForm(Form):
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])


class PartnerForm(Form):
    name = StringField(lazy_pgettext("partner", "Name"), validators=[DataRequired(), Length(max=100)])
    category = SelectField(_l("Category"), choices=[(c, CATEGORY_LABELS[c]) for c in CATEGORIES])


class StoreForm(Form):
    store_id = StringField(_l("Store code"), validators=[DataRequired(), Length(max=40), Regexp(r"^[A-Za-z0-9_.\-]+$")])
    name = StringField(_l("Store name"), validators=[DataRequired(), Length(max=100)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=50)])


class CashierForm(Form):
    email = EmailField(_l("Cashier's e-mail"), validators=[DataRequired(), Length(max=254)])


class SettlementForm(Form):
    class Meta:
        csrf = False

    partner = SelectField(_l("Partner"), coerce=int, choices=[])
    start = DateField(_l("From"), validators=[DataRequired()])
    end = DateField(_l("To"), validators=[DataRequired()])
