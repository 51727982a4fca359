from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField, SelectField
from wtforms.validators import DataRequired, Length

from crm.forms import Form
from crm.i18n import LOCALES


class LoginForm(Form):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class LanguageForm(Form):
    locale = SelectField(choices=list(LOCALES.items()), validators=[DataRequired()])
