"""Log-in, log-out, sessions and the language switch (routes in views.py); the admin's user and
session pages (views_users.py)."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
users_bp = Blueprint("users", __name__, url_prefix="/admin/users")
BLUEPRINTS = (bp, users_bp)
