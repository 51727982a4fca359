from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from crm.forms import Form
from crm.i18n import LOCALES
from crm.ui import LABELS
from crm.validators import ROLES


class LoginForm(Form):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class LanguageForm(Form):
    locale = SelectField(choices=list(LOCALES.items()), validators=[DataRequired()])


# Why a new password was refused (crm.auth.passwords.WeakPassword.code), as the form says it.
PASSWORD_REFUSALS = {
    "short": _l("At least 12 characters."),
    "common": _l(
        "This password is too common: it is on a list of passwords known from data breaches, "
        "or close to one. Choose another."
    ),
    "repetitive": _l("Too few different characters."),
    "digits": _l("Not digits only."),
    "sequence": _l("Not a run of consecutive characters."),
    "email": _l("It must not contain your e-mail name."),
    "same": _l("The new password must differ from the current one."),
}


class PasswordChangeForm(Form):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("New password again"), validators=[DataRequired(), EqualTo("new", message=_l("The two passwords differ."))]
    )


class UserCreateForm(Form):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    full_name = StringField(_l("Full name"), validators=[Length(max=100)])
    role = SelectField(
        _l("Role"), choices=[(role, LABELS["role"].get(role, role)) for role in ROLES], validators=[DataRequired()]
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class UserNameForm(Form):
    """An admin sets the name a user is shown by."""

    full_name = StringField(_l("Full name"), validators=[Length(max=100)])
