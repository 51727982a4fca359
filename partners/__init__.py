"""Partner merchants: the redemption API and the merchant portal.

partners uses crm's database layer, auth and UI helpers; crm reaches partners only through
the interface registered here (crm.benefits.partner_port), and the app factory registers
the blueprints. The portal's routes are in views_portal.py, views_admin.py and
views_coupons.py; the API's in api.py.
"""

from flask import Blueprint

from crm.benefits import partner_port
from partners.benefit_coupons import PartnerCoupons

bp = Blueprint("portal", __name__, url_prefix="/merchant")
api_bp = Blueprint("partners_api", __name__, url_prefix="/api/partners/v1")
BLUEPRINTS = (api_bp, bp)

partner_port.register(PartnerCoupons())
