"""The black list (黑名单): customers whose business a risk officer must see first.

The grey list (灰名单) is not stored: it is the watchlist the tier rules compute
(crm.tiers.blacklist.list_level). The black list is a person's decision, taken by two.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, utcnow

BLACKLIST_STATES = ("pending", "active", "rejected", "removed")
OPEN_STATES = ("pending", "active")
_OPEN = "status IN ('pending','active')"


class BlacklistEntry(Base):
    """One stay of a customer on the black list, from the request to the removal.

    ``pending`` until a second person (not the requester) confirms it; ``active`` from then
    on — a removal requested by one person (``removal_*``) waits, still active, for a second
    one; ``rejected`` or ``removed`` at the end. At most one open entry per customer (the
    partial unique index is the last guard).
    """

    __tablename__ = "blacklist_entries"
    __table_args__ = (
        CheckConstraint("status IN ('pending','active','rejected','removed')", name="status"),
        Index(
            "ux_blacklist_entries_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=text(_OPEN),
            postgresql_where=text(_OPEN),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str] = mapped_column(String(500))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[dt.datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))  # a rejected entry's
    removal_reason: Mapped[str | None] = mapped_column(String(500))
    removal_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removal_requested_at: Mapped[dt.datetime | None]
    # Who ended the entry, and when: the removal confirmed, or the request rejected.
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removed_at: Mapped[dt.datetime | None]
