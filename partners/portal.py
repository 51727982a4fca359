"""The merchant portal for partner cashiers (to be built)."""
from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/merchant")
NAV: list = []
