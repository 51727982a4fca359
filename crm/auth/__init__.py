"""Log-in, log-out, sessions and the language switch (routes in views.py)."""
from flask import Blueprint

bp = Blueprint("auth", __name__)
