"""review pages (to be built)."""
from flask import Blueprint

bp = Blueprint("review", __name__)
NAV: list = []
