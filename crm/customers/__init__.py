"""The customer list and the customer page (routes in views.py)."""

from flask import Blueprint

bp = Blueprint("customers", __name__)
