"""Admin pages: CSV upload (routes in views.py)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
