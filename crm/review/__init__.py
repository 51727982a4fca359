"""Enhanced underwriting and claims review: the queues and cases (routes in views.py), manual
entry (views_entry.py) and the review settings (views_settings.py)."""

from flask import Blueprint

from crm.review import subscriptions  # noqa: F401 - subscribes the feature's event handlers

bp = Blueprint("review", __name__, url_prefix="/review")
