"""benefits: demo data — the catalogue, checkup providers, entitlements for the VIPs, a few
bookings and an assistance case."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from crm.benefits import assistance, health, ledger
from crm.benefits.catalogue import DEFAULT, current_catalogue, save_catalogue
from crm.benefits.services import BenefitError
from crm.models import Customer, CustomerTier
from crm.models.benefits import BenefitCatalogueVersion, HealthProvider

PROVIDERS = (
    ("北京协和医院体检中心", "尊享深度体检套餐", "北京", "3680.00"),
    ("北京大学人民医院健康管理中心", "高端综合体检", "北京", "2980.00"),
    ("上海瑞金医院健康管理中心", "VIP全面体检", "上海", "3280.00"),
    ("复旦大学附属中山医院体检中心", "心脑血管专项体检", "上海", "2580.00"),
    ("广州中山大学附属第一医院体检中心", "精英体检套餐", "广州", "2680.00"),
    ("四川大学华西医院健康管理中心", "全面健康评估", "成都", "2380.00"),
)


def seed(database, actor, today: dt.date) -> None:
    """Add this feature's demo data in its own transaction (once: skipped when providers exist)."""
    with database.transaction() as session:
        if session.scalar(select(func.count()).select_from(HealthProvider)):
            return
        if not session.scalar(select(func.count()).select_from(BenefitCatalogueVersion)):
            save_catalogue(session, actor, DEFAULT, "默认贵宾增值服务目录")
        providers = [health.add_provider(session, actor, h, p, c, Decimal(price)) for h, p, c, price in PROVIDERS]
        ledger.renew(session, actor, today, current_catalogue(session))
        vips = list(
            session.scalars(
                select(Customer)
                .join(CustomerTier, CustomerTier.customer_id == Customer.id)
                .where(CustomerTier.tier == "vip", Customer.account_manager_id.is_not(None))
                .order_by(Customer.id)
                .limit(6)
            )
        )
        for i, customer in enumerate(vips[:4]):
            try:
                booking = health.book(
                    session,
                    actor,
                    customer.account_manager_id,
                    customer,
                    "checkup",
                    today + dt.timedelta(days=10 + i),
                    today,
                    provider_id=providers[i % len(providers)].id,
                )
                if i % 2:
                    health.transition(session, actor, booking.id, "confirmed", today)
            except BenefitError:
                continue
        if len(vips) > 4:
            case = assistance.open_case(
                session,
                actor,
                vips[4],
                "medical_rescue",
                "泰国 Thailand",
                "旅行途中急性阑尾炎，已送当地医院，安排转运回国。",
                today,
            )
            assistance.record_spend(session, actor, case, Decimal("18500.00"), "当地住院及手术费用")
