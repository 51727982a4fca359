"""partners: demo merchants with stores, the demo cashier's link, and coupons for some VIPs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from crm.models import CustomerTier, User
from partners import services
from partners.models import Partner

DEMO_PARTNERS = (
    ("海底捞火锅", "dining", [("HDL-SH01", "上海人民广场店", "上海"), ("HDL-BJ01", "北京王府井店", "北京")]),
    ("全季酒店", "hotel", [("JQ-HZ01", "杭州西湖店", "杭州")]),
    ("威尔士健身", "fitness", [("WS-SH03", "上海静安店", "上海")]),
    ("万象城购物中心", "shopping", [("MIXC-SZ", "深圳万象城", "深圳")]),
    ("万达影城", "entertainment", [("WD-GZ02", "广州天河店", "广州")]),
)
CASHIER_EMAIL = "cashier@demo.crm"
COUPON_VALUES = (Decimal("100.00"), Decimal("200.00"), Decimal("300.00"))


def seed(database, actor, today: dt.date) -> None:
    """Add the demo partners (once), link the demo cashier to the first, issue coupons to VIPs."""
    with database.transaction() as session:
        if session.scalar(select(func.count()).select_from(Partner)):
            return  # seeded before
        ids = []
        for name, category, stores in DEMO_PARTNERS:
            partner, _key = services.create_partner(session, actor, name, category)  # keys: rotate in the UI
            for store_id, store_name, city in stores:
                services.add_store(session, actor, partner.id, store_id, store_name, city)
            ids.append(partner.id)
        cashier = session.scalar(select(User).where(User.email == CASHIER_EMAIL))
        if cashier is not None and cashier.role == "partner_cashier":
            services.link_cashier(session, actor, ids[0], CASHIER_EMAIL)
        vips = list(
            session.scalars(
                select(CustomerTier.customer_id)
                .where(CustomerTier.tier == "vip")
                .order_by(CustomerTier.customer_id)
                .limit(12)
            )
        )
        for n, customer_id in enumerate(vips):
            for k in range(2):  # two coupons each, at different merchants; the first at the cashier's
                partner_id = ids[(n + k * 2) % len(ids)] if n else ids[k]
                services.issue_coupon(
                    session,
                    actor,
                    customer_id,
                    partner_id,
                    COUPON_VALUES[(n + k) % len(COUPON_VALUES)],
                    today + dt.timedelta(days=90),
                )
