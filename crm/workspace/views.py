"""workspace pages (to be built)."""
from flask import Blueprint

bp = Blueprint("workspace", __name__)
NAV: list = []
