"""A customer's referral tree (转介绍): who they brought in, who those brought in, and the premium
each brought, under the one definition of premium in force (start ≤ D < end, not voided)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from crm.models import Customer, Policy

MAX_DEPTH = 6  # referral chains deeper than this are not drawn (and a loop in bad data ends here)


@dataclass(frozen=True)
class Referral:
    customer_id: int
    referred_by_id: int | None
    depth: int  # 0: the customer whose tree it is
    customer_ref: str
    name: str
    premium: Decimal  # annual premium in force at the day
    visible: bool = True  # the viewer may open this customer


def referral_tree(session: Session, customer_id: int, day: dt.date) -> list[Referral]:
    """The customer and everyone they brought in, directly or through others, depth first."""
    tree = (
        select(Customer.id, Customer.referred_by_id, literal(0).label("depth"))
        .where(Customer.id == customer_id)
        .cte("tree", recursive=True)
    )
    tree = tree.union_all(
        select(Customer.id, Customer.referred_by_id, tree.c.depth + 1)
        .join(tree, Customer.referred_by_id == tree.c.id)
        .where(tree.c.depth < MAX_DEPTH)
    )
    premium = (
        select(Policy.customer_id, func.sum(Policy.annual_premium).label("premium"))
        .where(
            Policy.start_date <= day,
            Policy.end_date > day,
            Policy.voided_at.is_(None),
            Policy.customer_id.in_(select(tree.c.id)),
        )
        .group_by(Policy.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(
            tree.c.id,
            tree.c.referred_by_id,
            tree.c.depth,
            Customer.customer_ref,
            Customer.name,
            func.coalesce(premium.c.premium, 0),
        )
        .join(Customer, Customer.id == tree.c.id)
        .outerjoin(premium, premium.c.customer_id == tree.c.id)
    ).all()
    children: dict[int | None, list] = {}
    for row in sorted(rows, key=lambda r: r[3]):
        children.setdefault(row[1], []).append(row)
    out: list[Referral] = []

    def walk(row, depth: int) -> None:
        cid, parent, _, ref, name, amount = row
        out.append(Referral(cid, parent, depth, ref, name, Decimal(amount)))
        if depth < MAX_DEPTH:
            for child in children.get(cid, []):
                walk(child, depth + 1)

    root = next((r for r in rows if r[2] == 0), None)
    if root is not None:
        walk(root, 0)
    return out


def brought_in(tree: list[Referral]) -> Decimal:
    """The premium in force of everyone the customer brought in (the customer's own excluded)."""
    return sum((r.premium for r in tree if r.depth > 0), Decimal("0"))
