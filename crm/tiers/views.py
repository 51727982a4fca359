"""Tier runs, the tier policy, the risk model and overrides (to be completed)."""
from flask import Blueprint

bp = Blueprint("tiers", __name__, url_prefix="/tiers")
NAV: list = []
