"""The open overrides and the tier runs as lists (crm.listing): sorted by a chosen column,
counted, exported as shown. Names, not ids or e-mail addresses: an override's customer and
requester are selected with it; a run's starter (an Actor's label) is named by the view."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from crm import listing
from crm.models import Customer, TierOverride, TierRun, User

OPEN = ("pending", "active")
REQUESTER = aliased(User, name="requester")
OVERRIDE_COLUMNS = {
    "id": TierOverride.id,
    "customer": Customer.name,
    "tier": TierOverride.tier,
    "until": TierOverride.expires_on,
    "state": TierOverride.status,
    "requested_by": REQUESTER.full_name,
}
RUN_COLUMNS = {
    "id": TierRun.id,
    "mode": TierRun.mode,
    "state": TierRun.state,
    "as_of": TierRun.as_of,
    "started_by": TierRun.started_by,
    "customers": TierRun.customers,
    "changed": TierRun.changed,
    "policy": TierRun.policy_version,
}


def overrides_query(sort: listing.Sort = listing.UNSORTED) -> Select:
    """Rows of (override, customer name, customer ref, requester's e-mail, requester's name)
    of every pending or active override; the newest first unless ``sort`` says otherwise."""
    return (
        select(TierOverride, Customer.name, Customer.customer_ref, REQUESTER.email, REQUESTER.full_name)
        .join(Customer, Customer.id == TierOverride.customer_id)
        .join(REQUESTER, REQUESTER.id == TierOverride.requested_by_id)
        .where(TierOverride.status.in_(OPEN))
        .order_by(*listing.order_by(sort, OVERRIDE_COLUMNS, (TierOverride.id.desc(),), TierOverride.id))
    )


def runs_query(sort: listing.Sort = listing.UNSORTED) -> Select:
    """Every run (TierRun rows), the newest first unless ``sort`` says otherwise."""
    return select(TierRun).order_by(*listing.order_by(sort, RUN_COLUMNS, (TierRun.id.desc(),), TierRun.id))
