"""Demo data of the workspace: visits and follow-ups of the demo managers over the last months,
a team, this year's targets and the first report snapshot."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import select

from crm.db import Database
from crm.models import Customer, CustomerTier, User
from crm.models.workspace import Team
from crm.workspace import targets, visits
from crm.workspace.snapshots import SnapshotExists, take_snapshot

MANAGERS = ("manager1@demo.crm", "manager2@demo.crm", "manager3@demo.crm")
# Notes are what the demo's account managers wrote, not labels: the demo portfolio is a Chinese
# insurer's book, so they are written in Chinese, as its staff would write them (and are shown as
# written in either language of the UI).
OUTCOMES = (
    "梳理家庭保障，客户有意加保重疾险。",
    "保单周年检视，客户暂无变更需求。",
    "介绍贵宾健康体检并已为客户预约。",
    "收取未决赔案的理赔资料。",
    "社区咨询活动中面谈。",
    "回访：客户对理赔服务满意。",
    "拜访：介绍10年期期交产品，客户考虑中。",
)
NEXT_STEPS = ("递送建议书", "体检后回访", "带续保单上门", "回访确认保单信息")
TEAM = "一组"
OLD_TEAM = "一组 Team 1"  # the team's name in demos seeded before the notes were Chinese
PLANS = (Decimal("600000"), Decimal("500000"), Decimal("450000"))


def seed(database: Database, actor, today: dt.date, days: int = 120) -> None:
    """Visits (about two a week per manager), targets for this year and a report snapshot."""
    rng = random.Random(7)
    with database.transaction() as session:
        managers = list(session.scalars(select(User).where(User.email.in_(MANAGERS)).order_by(User.email)))
        if not managers or session.scalar(select(Team.id).where(Team.name.in_((TEAM, OLD_TEAM)))) is not None:
            return
        for manager in managers:
            customers = list(
                session.scalars(
                    select(Customer.id)
                    .outerjoin(CustomerTier, CustomerTier.customer_id == Customer.id)
                    .where(Customer.account_manager_id == manager.id)
                    .order_by(CustomerTier.value_score.desc().nulls_last(), Customer.id)
                    .limit(40)
                )
            )
            if not customers:
                continue
            day = today - dt.timedelta(days=days)
            while day <= today:
                if day.weekday() < 5 and rng.random() < 0.4:
                    due = day + dt.timedelta(days=rng.choice((3, 7, 14, 30))) if rng.random() < 0.5 else None
                    data = visits.VisitInput(
                        rng.choice(("visit", "visit", "call", "call", "event")),
                        day,
                        rng.choice(OUTCOMES),
                        rng.choice(NEXT_STEPS) if due else "",
                        due,
                    )
                    visits.log_visit(session, actor, manager, rng.choice(customers), data, today)
                day += dt.timedelta(days=1)
        team = targets.create_team(session, actor, TEAM, [m.id for m in managers[:2]])
        for manager, plan in zip(managers, PLANS):
            targets.set_target(session, actor, today.year, "long_term_premium", plan, manager_id=manager.id)
            targets.set_target(session, actor, today.year, "visits", Decimal("100"), manager_id=manager.id)
        targets.set_target(session, actor, today.year, "long_term_premium", sum(PLANS[:2]), team_id=team.id)
        targets.set_target(session, actor, today.year, "visits", Decimal("200"), team_id=team.id)
    try:
        take_snapshot(database, today, f"demo:{today.isoformat()}", actor)
    except SnapshotExists:
        pass
