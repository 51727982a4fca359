"""The audit trail: append-only events, chained by a SHA-256 hash chain once sealed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base


class AuditEvent(Base):
    """One audited change. Written by a plain INSERT in the operation's own transaction; the
    sealer (crm.audit.seal) later gives it its ``position`` in the chain, the hash of the event
    before it there (``prev_hash``) and its own ``hash``. The triggers allow that one UPDATE
    and no other."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id", "seq"),)

    # The event's number, in the order the events were written (SQLite: a rowid alias).
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[dt.datetime]
    actor_type: Mapped[str] = mapped_column(String(20))  # user | cli | job | partner | system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_label: Mapped[str] = mapped_column(String(254))
    actor_role: Mapped[str | None] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(60))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[str | None] = mapped_column(Text)  # canonical JSON, stored as text so it hashes the same
    after: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Set by the sealer; its uniqueness is the last guard against a fork.
    position: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the chain's newest position and hash. Sealers lock it, so one seals at a time."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)  # the newest sealed event's position
    hash: Mapped[str] = mapped_column(String(64))
