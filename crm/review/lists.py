"""The review queues as lists (crm.listing): sorted by a chosen column, counted, exported.

The queue page's own order (priority, then age) pages by keyset (crm.review.queries); a sort
by a column pages by offset, as every other list does. Both select the same cases.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from crm import listing
from crm.models import Claim, Customer, User
from crm.models.review import ACTIVE_STATES, ReviewCase
from crm.review.queries import STATE_FILTERS, QueueFilter

ASSIGNEE = aliased(User, name="assignee")
SORT_COLUMNS = {
    "id": ReviewCase.id,
    "reason": ReviewCase.reason,
    "customer": Customer.name,
    "amount": Claim.claimed_amount,
    "priority": ReviewCase.priority,
    "due": ReviewCase.due_on,
    "state": ReviewCase.state,
    "assignee": ASSIGNEE.full_name,
}


def queue_query(user: User, queue: str, f: QueueFilter, today: dt.date, sort: listing.Sort) -> Select:
    """Rows of (case, customer name, customer ref, assignee's e-mail, assignee's name, claimed
    amount) of the queue under the filter ``f``, in ``sort``'s order (else the queue's own)."""
    states = STATE_FILTERS.get(f.state, ACTIVE_STATES)
    if f.overdue:
        states = tuple(s for s in states if s in ACTIVE_STATES)
    stmt = (
        select(
            ReviewCase, Customer.name, Customer.customer_ref, ASSIGNEE.email, ASSIGNEE.full_name, Claim.claimed_amount
        )
        .join(Customer, Customer.id == ReviewCase.customer_id)
        .outerjoin(ASSIGNEE, ASSIGNEE.id == ReviewCase.assignee_id)
        .outerjoin(Claim, Claim.id == ReviewCase.claim_id)
        .where(ReviewCase.queue == queue, ReviewCase.state.in_(states))
    )
    if f.mine:
        stmt = stmt.where(ReviewCase.assignee_id == user.id)
    if f.vip:
        stmt = stmt.where(ReviewCase.fast_track.is_(True))
    if f.overdue:
        stmt = stmt.where(ReviewCase.due_on < today)
    default = (ReviewCase.priority.desc(), ReviewCase.id)
    return stmt.order_by(*listing.order_by(sort, SORT_COLUMNS, default, ReviewCase.id))
