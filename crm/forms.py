"""Control characters in what people type: refused everywhere, the same on both databases.

PostgreSQL cannot store a NUL (the request ended in a 500) and SQLite stored it silently; the
other control characters hide text from whoever reads it later. So:

- ``Form``, the base of every form of the product, gives each text field (``StringField`` and
  its kinds: text areas, e-mail, search, hidden, password) the ``NoControlCharacters``
  validator: the person sees a field error. A text area may keep its line breaks; a tab is
  allowed everywhere (CONTRACT.md says the same of imported cells).
- ``refuse_control_characters`` (a request hook) answers 400 with a clear message when the
  address itself carries one (a search box, a filter, a path segment), before any view runs.
- ``form_text`` reads one posted field in the views that take text without a form (a reason
  typed into a small inline form), answering 400 the same way.
"""

from __future__ import annotations

from flask import abort, make_response, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import ValidationError

from crm.validators import control_character


class NoControlCharacters:
    """Refuses text holding a control character (tab allowed; line breaks too when ``multiline``)."""

    def __init__(self, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, form, field) -> None:
        if not isinstance(field.data, str):
            return
        code = control_character(field.data, allow_newlines=self.multiline)
        if code is not None:  # the value is not repeated: it may be personal data
            raise ValidationError(_("Remove the control character (%(code)s) from this field.", code=code))


class Form(FlaskForm):
    """The base of every form: FlaskForm (CSRF) whose text fields refuse control characters."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, StringField):
                field.validators = [*field.validators, NoControlCharacters(isinstance(field, TextAreaField))]
            return field


def refuse_control_characters():
    """Before each request: a control character in the query string or the path answers 400.

    The partner API is left to its own checks: it validates every input itself (a code that is
    not a code is 422) and answers 401 before anything else, as its OpenAPI document says.
    """
    if request.path.startswith("/api/"):
        return None
    values = [
        *(v for _k, v in request.args.items(multi=True)),  # every value of a repeated key too
        *(v for v in (request.view_args or {}).values() if isinstance(v, str)),
    ]
    for value in values:
        code = control_character(value)
        if code is not None:
            from crm.errors import _render

            return _render(
                400,
                _("The address contains a control character (%(code)s); nothing was searched or changed.", code=code),
            )
    return None


def form_text(name: str) -> str:
    """The posted text field ``name`` ("" when absent); a control character in it (line breaks
    allowed) ends the request with 400 and a clear message, before anything is changed."""
    value = request.form.get(name, "")
    code = control_character(value, allow_newlines=True)
    if code is not None:
        from crm.errors import _render

        abort(
            make_response(
                _render(
                    400,
                    _(
                        "The field %(field)s contains a control character (%(code)s); nothing was changed.",
                        field=name,
                        code=code,
                    ),
                )
            )
        )
    return value
