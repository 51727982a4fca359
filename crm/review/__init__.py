"""Enhanced underwriting and claims review: the queues and cases (routes in views.py), manual
entry (views_entry.py) and the review settings (views_settings.py)."""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/review")
