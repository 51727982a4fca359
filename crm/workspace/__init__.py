"""The account managers' workspace: dashboard and portfolio (routes in views.py), visits and
targets (views_visits.py), reports and the data export (views_reports.py)."""

from flask import Blueprint

from crm.workspace import subscriptions  # noqa: F401 - subscribes the feature's event handlers

bp = Blueprint("workspace", __name__)
