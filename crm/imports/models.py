"""An import job: one uploaded file, queued for the scheduler process, and its outcome."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, utcnow


class ImportJob(Base):
    """Queued by the upload page, run once by a scheduler (a conditional UPDATE claims it), its
    progress and outcome shown on its page. The stored file is deleted when the job ends."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued','running','completed','failed')", name="state"),
        Index("ix_import_jobs_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded: shown, never used as a path
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)  # the file under the upload directory
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    dry_run: Mapped[bool] = mapped_column(default=False)
    initial_load: Mapped[bool] = mapped_column(default=False)
    encoding: Mapped[str] = mapped_column(String(10), default="utf-8", server_default="utf-8")  # utf-8 | gb18030
    state: Mapped[str] = mapped_column(String(10), default="queued")
    phase: Mapped[str] = mapped_column(String(20), default="")  # validating | importing
    progress: Mapped[int] = mapped_column(default=0)  # percent
    rows: Mapped[int | None]
    created: Mapped[int | None]
    updated: Mapped[int | None]
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    problems: Mapped[str | None] = mapped_column(Text)  # JSON: 'row N, column C: …' lines, in row order
    more_problems: Mapped[int] = mapped_column(default=0)
    changed_fields: Mapped[str | None] = mapped_column(Text)  # JSON {file column: rows changed}, re-imports
    # A failure that is not the file's: 'interrupted' (its process died) or 'error:TypeName'.
    error: Mapped[str | None] = mapped_column(String(500))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_by: Mapped[str] = mapped_column(String(254))
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
