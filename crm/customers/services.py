"""Finding customers, with per-object authorisation built into every query."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session

from crm.models import Claim, Customer, CustomerTier, Policy, User

PAGE_SIZE = 50


class NotVisible(LookupError):
    """The customer does not exist or the user may not see them (the same answer for both)."""


def visible_customers(user: User) -> Select:
    """All customers the user may see: an account manager only their own portfolio."""
    stmt = select(Customer)
    if user.role == "account_manager":
        stmt = stmt.where(Customer.account_manager_id == user.id)
    elif user.role == "partner_cashier":
        stmt = stmt.where(False)
    return stmt


@dataclass(frozen=True)
class CustomerFilter:
    q: str = ""
    tier: str = ""
    city: str = ""
    manager_id: int | None = None
    after_id: int | None = None


def search_customers(session: Session, user: User, f: CustomerFilter, limit: int = PAGE_SIZE):
    """One page of customers, with their tier; returns (rows, next_after_id).

    Pages are keyset pages: on id, or for a name search on (name, id), so that the (name, id)
    index answers a common surname among a million customers without sorting its matches.
    """
    stmt = visible_customers(user).add_columns(CustomerTier.tier).outerjoin(
        CustomerTier, CustomerTier.customer_id == Customer.id)
    q = f.q.strip()
    order = (Customer.id,)
    if q:
        if q.isdigit() and len(q) == 11:
            stmt = stmt.where(Customer.phone == q)
        elif q.upper().startswith("C") and q[1:].isdigit():
            stmt = stmt.where(Customer.customer_ref == q.upper())
        else:  # a name prefix: a range the (name, id) index answers on both databases
            stmt = stmt.where(Customer.name >= q, Customer.name < q + "\U0010ffff")
            order = (Customer.name, Customer.id)
    if f.tier:
        stmt = stmt.where(CustomerTier.tier == f.tier)
    if f.city:
        stmt = stmt.where(Customer.city == f.city)
    if f.manager_id:
        stmt = stmt.where(Customer.account_manager_id == f.manager_id)
    if f.after_id and len(order) == 2:
        after_name = session.scalar(select(Customer.name).where(Customer.id == f.after_id))
        stmt = stmt.where(tuple_(Customer.name, Customer.id) > tuple_(after_name or "", f.after_id))
    elif f.after_id:
        stmt = stmt.where(Customer.id > f.after_id)
    rows = session.execute(stmt.order_by(*order).limit(limit + 1)).all()
    next_after = rows[limit - 1][0].id if len(rows) > limit else None
    return rows[:limit], next_after


def get_customer(session: Session, user: User, customer_id: int) -> Customer:
    customer = session.scalar(visible_customers(user).where(Customer.id == customer_id))
    if customer is None:
        raise NotVisible(customer_id)
    return customer


def customer_picture(session: Session, user: User, customer: Customer) -> dict:
    """What the customer page shows: tier state, policies, claims and referrals.

    Referrals are people too: the user sees those in their own view of the portfolio by
    name, and only the number of the others.
    """
    referred = select(Customer.id).where(Customer.referred_by_id == customer.id)
    referrals = list(session.scalars(visible_customers(user).where(Customer.referred_by_id == customer.id)
                                     .order_by(Customer.id).limit(50)))
    total = session.scalar(select(func.count()).select_from(referred.subquery())) or 0
    referrer = None
    if customer.referred_by_id is not None:
        referrer = session.scalar(visible_customers(user).where(Customer.id == customer.referred_by_id))
    return {
        "tier": session.get(CustomerTier, customer.id),
        "policies": list(session.scalars(select(Policy).where(Policy.customer_id == customer.id)
                                         .order_by(Policy.start_date.desc()))),
        "claims": list(session.scalars(select(Claim).where(Claim.customer_id == customer.id)
                                       .order_by(Claim.loss_date.desc()))),
        "referrals": referrals,
        "hidden_referrals": max(total - len(referrals), 0),
        "referrer": referrer,
        "referrer_hidden": customer.referred_by_id is not None and referrer is None,
    }


def cities(session: Session) -> list[str]:
    """The cities to filter by: from the newest report snapshot (a DISTINCT over a million
    customers is too slow for a page), else from the customers themselves."""
    from crm.workspace.snapshots import figures

    _snapshot, payload = figures(session, "all")
    if payload and payload["loss_ratio"]["city"]:
        return sorted(row["key"] for row in payload["loss_ratio"]["city"])
    return list(session.scalars(select(Customer.city).distinct().order_by(Customer.city).limit(500)))


def managers(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == "account_manager").order_by(User.email)))
