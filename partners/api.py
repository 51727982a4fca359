"""The partner API /api/partners/v1 (to be built)."""
from flask import Blueprint

bp = Blueprint("partners_api", __name__, url_prefix="/api/partners/v1")
NAV: list = []
