"""VIP services: the catalogue (routes in views.py), bookings and coupons (views_services.py),
assistance (views_assistance.py), cost and utilisation (views_reports.py)."""

from flask import Blueprint

from crm.benefits import subscriptions  # noqa: F401 - subscribes the feature's event handlers

bp = Blueprint("benefits", __name__, url_prefix="/benefits")
