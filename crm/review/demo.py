"""review: demo cases. The demo portfolio is an initial load (exempt from the late-entry and
cover-after-loss rules), so this routes the watchlist's recent business through the rules that
do apply, enters a handful of fresh late / back-filled / large claims through the entry service
(as the admin), and hands some cases to the demo reviewers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from crm import audit
from crm.models import Claim, CustomerTier, Policy, User
from crm.models.review import ReviewCase
from crm.review import assign, services
from crm.review.entry import enter_claim, enter_policy
from crm.review.routing import Origin, route_claims, route_policies


def _user(session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def _policies_of(session, tier: str, limit: int) -> list[Policy]:
    return list(
        session.scalars(
            select(Policy)
            .join(CustomerTier, CustomerTier.customer_id == Policy.customer_id)
            .where(CustomerTier.tier == tier, Policy.status == "in_force")
            .order_by(Policy.id)
            .limit(limit)
        )
    )


def _enter_fresh_business(session, admin: User, today: dt.date) -> None:
    actor = audit.Actor.for_user(admin)
    standard = _policies_of(session, "standard", 3)
    vip = _policies_of(session, "vip", 1)
    if len(standard) < 3:
        return
    start = today - dt.timedelta(days=75)
    for n, owner in enumerate(standard[:2], start=1):  # late entries; the second is claimed on before entry
        enter_policy(
            session,
            admin,
            actor,
            {
                "policy_no": f"DEMO-LATE-{n}",
                "customer_ref": owner.customer.customer_ref,
                "product_code": "LIFE-10",
                "product_type": "life",
                "start_date": start.isoformat(),
                "end_date": start.replace(year=start.year + 10).isoformat(),
                "term_years": "10",
                "payment_mode": "annual",
                "annual_premium": "9600.00",
                "status": "in_force",
            },
            today,
        )
    claims = [
        ("DEMO-LATE-2", today - dt.timedelta(days=40), "18000.00", "0"),  # cover after the loss
        (standard[2].policy_no, today - dt.timedelta(days=6), "128000.00", "0"),  # large
        (standard[0].policy_no, today - dt.timedelta(days=3), "6200.00", "1"),
    ]  # suspected fraud
    if vip:
        claims.append((vip[0].policy_no, today - dt.timedelta(days=2), "86000.00", "0"))  # VIP: fast track
    for n, (policy_no, loss, amount, fraud) in enumerate(claims, start=1):
        enter_claim(
            session,
            admin,
            actor,
            {
                "claim_no": f"DEMO-CLM-{n}",
                "policy_no": policy_no,
                "loss_date": loss.isoformat(),
                "report_date": (loss + dt.timedelta(days=1)).isoformat(),
                "status": "reported",
                "claimed_amount": amount,
                "reserve_amount": amount,
                "paid_amount": "0.00",
                "fraud_suspected": fraud,
            },
            today,
        )


def _hand_out(session, users: dict[str, User | None]) -> None:
    """Some cases held, one escalated, one decided, a few round-robin: a queue in motion."""
    open_ids = list(
        session.scalars(
            select(ReviewCase.id).where(ReviewCase.state == "open").order_by(ReviewCase.priority.desc(), ReviewCase.id)
        )
    )
    plan = [
        ("reviewer@demo.crm", "claim"),
        ("reviewer@demo.crm", "escalate"),
        ("reviewer2@demo.crm", "decide"),
        ("reviewer2@demo.crm", "claim"),
        ("underwriter@demo.crm", "claim"),
    ]
    for email, step in plan:
        user = users.get(email)
        if user is None:
            continue
        actor = audit.Actor.for_user(user)
        for case_id in list(open_ids):
            try:
                services.claim_case(session, case_id, user, actor)
            except services.ReviewError:
                continue
            open_ids.remove(case_id)
            if step == "escalate":
                services.escalate(session, case_id, user, "多次大额出险，提交上级公司严格审核", actor)
            elif step == "decide":
                try:
                    services.decide(session, case_id, user, "approved", "资料齐全，事故在保障范围内", actor)
                except services.CoverNotApproved:  # cover entered after the loss: a risk officer's call
                    services.escalate(session, case_id, user, "出险后补录承保信息，提交风控人员处理", actor)
            break
    for case_id in open_ids[:4]:
        try:
            assign.assign_round_robin(session, case_id, audit.Actor.cli("demo"))
        except services.ReviewError:
            continue


def seed(database, actor, today) -> None:
    """Add this feature's demo data in its own transaction (skipped when it is there already)."""
    with database.transaction() as session:
        if session.scalar(select(Claim.id).where(Claim.claim_no == "DEMO-CLM-1")):
            return
        origin = Origin(actor=actor, initial_load=True)  # the migrated portfolio: watchlist rules only
        since = today - dt.timedelta(days=365)
        watch = select(CustomerTier.customer_id).where(CustomerTier.tier == "watchlist")
        route_policies(
            session,
            list(
                session.scalars(
                    select(Policy.id)
                    .where(Policy.customer_id.in_(watch), Policy.start_date >= since)
                    .order_by(Policy.id)
                    .limit(20)
                )
            ),
            [],
            origin,
        )
        route_claims(
            session,
            list(
                session.scalars(
                    select(Claim.id)
                    .where(Claim.customer_id.in_(watch), Claim.loss_date >= since)
                    .order_by(Claim.id)
                    .limit(40)
                )
            ),
            origin,
        )
        users = {
            email: _user(session, email)
            for email in ("admin@demo.crm", "reviewer@demo.crm", "reviewer2@demo.crm", "underwriter@demo.crm")
        }
        if users["admin@demo.crm"] is not None:
            _enter_fresh_business(session, users["admin@demo.crm"], today)
        _hand_out(session, users)
