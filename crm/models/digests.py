"""The keyed digest of each audited record's last audited state (crm.record_digests)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base


class RecordDigest(Base):
    """One row per audited record: ``mac`` is the keyed hash (the app's secret, never stored
    here) of the record's table, key and canonical state; ``tags`` a 16-bit check per field
    (4 hex digits each), only to name the fields that differ once the mac does not match."""

    __tablename__ = "record_digests"

    tbl: Mapped[str] = mapped_column(String(24), primary_key=True)
    record_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    mac: Mapped[str] = mapped_column(String(32))
    tags: Mapped[str] = mapped_column(String(80))
