"""The review queues as lists (crm.listing): sorted by a chosen column, counted, exported.

The queue page's own order (priority, then age) pages by keyset (crm.review.queries); a sort
by a column pages by offset, as every other list does. Both select the same cases.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select

from crm import listing
from crm.models import Claim, Customer, User
from crm.models.review import ReviewCase
from crm.review.queries import ASSIGNEE, QueueFilter, case_rows, queue_states

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
    stmt = case_rows(user, queue, f, today, ReviewCase.state.in_(queue_states(f)))
    default = (ReviewCase.priority.desc(), ReviewCase.id)
    return stmt.order_by(*listing.order_by(sort, SORT_COLUMNS, default, ReviewCase.id))
