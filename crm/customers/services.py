"""Finding customers, with per-object authorisation built into every query."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from crm import audit, listing
from crm.audit import Actor
from crm.models import Claim, Customer, CustomerTier, Policy, User
from crm.models.customers import PHONE_TAIL
from crm.validators import parse_phone

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


# Who may see a customer's full ID number and mobile number (the audited reveal) — and so
# also find a customer by them: a search by a full number answers "is this the number?".
REVEAL_ROLES = ("admin", "account_manager")
FULL_NUMBER_KINDS = ("phone", "id_number")
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_SEPARATORS = re.compile(r"[\s\-]+")


def may_reveal(user: User) -> bool:
    return user.role in REVEAL_ROLES


class RevealRequired(PermissionError):
    """A search by a full ID number or mobile number from a role that may not reveal them."""


@dataclass(frozen=True)
class CustomerFilter:
    q: str = ""
    tier: str = ""
    city: str = ""
    manager_id: int | None = None
    after_id: int | None = None
    sort: listing.Sort = listing.Sort()
    page: int = 0


def search_kind(q: str) -> tuple[str, str]:
    """What a search text is, and the value to look for: ``phone`` (a full mobile number),
    ``id_number`` (a full ID number), ``phone_tail`` (four digits: the end of a phone, as the
    masked lists show it), ``reference`` (a customer reference or its beginning, the ``C``
    optional: ``000123`` finds C000123), ``name`` (the beginning of a name), or ``""``."""
    text = q.strip()
    compact = _SEPARATORS.sub("", text).upper()
    if not text:
        return "", ""
    try:
        return "phone", parse_phone(compact)
    except ValueError:
        pass
    if _ID_SHAPE.fullmatch(compact):
        return "id_number", compact
    if compact.isdigit() and len(compact) == 4:
        return "phone_tail", compact
    if any(ch.isdigit() for ch in text) and not any(ch.isspace() for ch in text):
        return "reference", text.upper()
    return "name", text


# The columns a customer list may be sorted by (not the phone: the order of masked numbers
# would tell their hidden digits).
SORT_COLUMNS = {
    "reference": Customer.customer_ref,
    "name": Customer.name,
    "tier": CustomerTier.tier,
    "city": Customer.city,
    "source": Customer.source,
}


def customer_query(user: User, f: CustomerFilter) -> Select:
    """Every customer of the list (Customer, tier) with the filters of ``f``, unordered.
    Raises RevealRequired, before anything is read, when a user who may not reveal searches
    by a full ID number or mobile number."""
    stmt = (
        visible_customers(user)
        .add_columns(CustomerTier.tier)
        .outerjoin(CustomerTier, CustomerTier.customer_id == Customer.id)
    )
    where = search_filter(user, f.q)
    if where is not None:
        stmt = stmt.where(where)
    if f.tier:
        stmt = stmt.where(CustomerTier.tier == f.tier)
    if f.city:
        stmt = stmt.where(Customer.city == f.city)
    if f.manager_id:
        stmt = stmt.where(Customer.account_manager_id == f.manager_id)
    return stmt


def ordered(stmt: Select, f: CustomerFilter) -> Select:
    """``stmt`` in the list's order: the chosen column, else by the searched column, else by id."""
    kind, _value = search_kind(f.q)
    searched = {"reference": Customer.customer_ref, "name": Customer.name}.get(kind)
    default = (Customer.id,) if searched is None else (searched, Customer.id)
    return stmt.order_by(*listing.order_by(f.sort, SORT_COLUMNS, default, Customer.id))


def search_customers(session: Session, user: User, f: CustomerFilter, limit: int = PAGE_SIZE):
    """One page of customers, with their tier; returns (rows, next_after_id, has_more).

    In the list's own order, pages are keyset pages: on id, or for a name or reference search
    on (name, id) or the unique reference, so that an index answers a common surname among a
    million customers without sorting its matches. Sorted by a column, they are offset pages
    (``f.page``). Raises RevealRequired, before anything is read, when a user who may not
    reveal searches by a full ID number or mobile number: what such a search would find,
    how many and how fast must not tell them the number.
    """
    stmt = customer_query(user, f)
    if f.sort.key is not None:
        rows, more = listing.page_of(session, ordered(stmt, f), f.page, limit)
        return rows, None, more
    kind, _value = search_kind(f.q)
    sort = {"reference": Customer.customer_ref, "name": Customer.name}.get(kind)
    if f.after_id and sort is not None:
        after_key = session.scalar(select(sort).where(Customer.id == f.after_id))
        stmt = stmt.where(tuple_(sort, Customer.id) > tuple_(after_key or "", f.after_id))
    elif f.after_id:
        stmt = stmt.where(Customer.id > f.after_id)
    rows = session.execute(ordered(stmt, f).limit(limit + 1)).all()
    next_after = rows[limit - 1][0].id if len(rows) > limit else None
    return rows[:limit], next_after, next_after is not None


def search_clause(kind: str, value: str):
    """The condition on Customer of a search that ``search_kind`` read: the same in every list
    (the customers, a portfolio, the review queues, the overrides)."""
    if kind == "phone":
        return Customer.phone == value
    if kind == "id_number":
        return Customer.id_number == value
    if kind == "phone_tail":
        return PHONE_TAIL == value  # the expression of ix_customers_phone_tail_id
    if kind == "reference":
        prefixes = {value} | ({"C" + value} if value.isdigit() else set())
        return or_(*(_prefix(Customer.customer_ref, p) for p in prefixes))
    return _prefix(Customer.name, value)


def search_filter(user: User, q: str, full_numbers: bool = True):
    """The condition on Customer of the search text ``q`` typed into any list, or None for no
    search. Raises RevealRequired when a user who may not reveal searches by a full ID number
    or mobile number, and (``full_numbers=False``: the lists other than the customer search,
    which do not audit such a search as a reveal) for everyone."""
    kind, value = search_kind(q)
    if not kind:
        return None
    if kind in FULL_NUMBER_KINDS and not (full_numbers and may_reveal(user)):
        raise RevealRequired(kind)
    return search_clause(kind, value)


def _prefix(column, text: str):
    """Starts with ``text``: a range an index answers on both databases (LIKE would not)."""
    return and_(column >= text, column < text + "\U0010ffff")


def record_search_reveal(session: Session, actor: Actor, kind: str, customer_ids: list[int]) -> None:
    """Audit a search by a full number as what it is, a reveal: one ``pii.reveal`` event per
    customer found, or one naming nobody when none was (the answer "not a customer" is
    something learnt too). The number itself is not written."""
    after = {"fields": [kind], "via": "search"}
    changes = [audit.Change("pii.reveal", "customer", cid, None, after) for cid in customer_ids]
    audit.record(
        session, actor, changes or [audit.Change("pii.reveal", "customer", None, None, {**after, "customers": []})]
    )


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
    referrals = list(
        session.scalars(
            visible_customers(user).where(Customer.referred_by_id == customer.id).order_by(Customer.id).limit(50)
        )
    )
    total = session.scalar(select(func.count()).select_from(referred.subquery())) or 0
    referrer = None
    if customer.referred_by_id is not None:
        referrer = session.scalar(visible_customers(user).where(Customer.id == customer.referred_by_id))
    return {
        "tier": session.get(CustomerTier, customer.id),
        "policies": list(
            session.scalars(select(Policy).where(Policy.customer_id == customer.id).order_by(Policy.start_date.desc()))
        ),
        "claims": list(
            session.scalars(select(Claim).where(Claim.customer_id == customer.id).order_by(Claim.loss_date.desc()))
        ),
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
