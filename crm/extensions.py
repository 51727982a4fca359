"""Flask extensions made once and bound to an app by the factory (``init_app``), so that a
feature (crm's or partners') can use one without importing the app module."""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
