"""An account manager's portfolio, VIPs without a manager, and reassignment by admins."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from crm import audit, listing
from crm.customers.services import search_filter, visible_customers
from crm.models import Customer, CustomerTier, User

PAGE_SIZE = 50


class ReassignError(ValueError):
    """A customer could not be reassigned; the message says why."""


SORT_COLUMNS = {
    "reference": Customer.customer_ref,
    "name": Customer.name,
    "tier": CustomerTier.tier,
    "value_score": CustomerTier.value_score,
    "risk_score": CustomerTier.risk_score,
    "city": Customer.city,
}


def portfolio_query(user: User, manager_id: int | None, q: str = "", sort: listing.Sort = listing.UNSORTED):
    """A portfolio in its order: the chosen column, else VIPs first, then by value score
    (highest first). An account manager always sees their own; others choose ``manager_id``.
    ``q`` searches as the customer list does (name, reference or its beginning, phone tail).
    Raises RevealRequired for a full ID or mobile number."""
    stmt = visible_customers(user)
    if user.role != "account_manager":
        stmt = stmt.where(Customer.account_manager_id == manager_id)
    where = search_filter(user, q, full_numbers=False)
    if where is not None:
        stmt = stmt.where(where)
    default = (
        case((CustomerTier.tier == "vip", 0), else_=1),
        CustomerTier.value_score.desc().nulls_last(),
        Customer.id,
    )
    return (
        stmt.add_columns(CustomerTier)
        .outerjoin(CustomerTier, CustomerTier.customer_id == Customer.id)
        .order_by(*listing.order_by(sort, SORT_COLUMNS, default, Customer.id))
    )


def my_customers(
    session: Session,
    user: User,
    manager_id: int | None,
    page: int = 0,
    q: str = "",
    sort: listing.Sort = listing.UNSORTED,
):
    """One page of a portfolio: (rows of (Customer, CustomerTier | None), has_more)."""
    return listing.page_of(session, portfolio_query(user, manager_id, q, sort), page, PAGE_SIZE)


def unassigned_vips(session: Session, limit: int = 200):
    """VIP customers without a dedicated account manager (DOMAIN.md §2), highest value first."""
    return session.execute(
        select(Customer, CustomerTier)
        .join(CustomerTier, CustomerTier.customer_id == Customer.id)
        .where(CustomerTier.tier == "vip", Customer.account_manager_id.is_(None))
        .order_by(CustomerTier.value_score.desc(), Customer.id)
        .limit(limit)
    ).all()


def reassign(session: Session, actor: audit.Actor, customer_id: int, manager_id: int | None) -> Customer:
    """Give a customer to another account manager (or to none), audited with both managers."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise ReassignError(_l("no such customer"))
    if (
        manager_id is not None
        and session.scalar(
            select(User.id).where(User.id == manager_id, User.role == "account_manager", User.active.is_(True))
        )
        is None
    ):
        raise ReassignError(_l("choose an active account manager"))
    before = customer.account_manager_id
    if before == manager_id:
        raise ReassignError(_l("the customer already has this account manager"))
    customer.account_manager_id = manager_id
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "customer.reassign",
            "customer",
            customer.id,
            {"account_manager_id": before},
            {"account_manager_id": manager_id},
        ),
    )
    return customer


def active_managers(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(User.role == "account_manager", User.active.is_(True))
            .order_by(User.full_name, User.email)
        )
    )
