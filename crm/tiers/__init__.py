"""Tier runs, the tier policy, the risk model and overrides (routes in views.py)."""

from flask import Blueprint

bp = Blueprint("tiers", __name__, url_prefix="/tiers")
