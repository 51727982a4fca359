"""benefits pages (to be built)."""
from flask import Blueprint

bp = Blueprint("benefits", __name__)
NAV: list = []
