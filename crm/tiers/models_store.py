"""Fitted frequency models in the database (``risk_models``): stored portably, read back
only in that format.

A record's ``blob`` is segmentation.model_format's JSON document (the GLM's coefficients, or
boosted trees via skops). Versions before it stored a pickle there; such a record is never
unpickled (it could run any code, and breaks across scikit-learn upgrades): it is not reused,
the next run refits, and the new model's note says why (and the log does too).
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import RiskModelRecord
from segmentation.model_format import is_legacy
from segmentation.risk_model import FittedModel

log = logging.getLogger(__name__)

LEGACY_NOTE = (
    "Refitted: the model stored before ({version}) was written by an older version of the app "
    "as a pickle, which is never loaded (it could run code, and breaks across scikit-learn "
    "upgrades)."
)


def newest(session: Session) -> RiskModelRecord | None:
    """The most recently stored model record, if any."""
    return session.scalar(select(RiskModelRecord).order_by(RiskModelRecord.id.desc()).limit(1))


def unreadable(record: RiskModelRecord) -> bool:
    """Whether a record holds a model of an older version (a pickle), not to be loaded."""
    return is_legacy(record.blob)


def reusable_model(session: Session, max_age: dt.timedelta, now: dt.datetime) -> tuple[FittedModel, str] | None:
    """The newest stored model and its version, if it was stored within max_age and in the
    current format; None when the run must fit one (a model of an older version is logged
    and left unread)."""
    record = newest(session)
    if record is None or now - record.created_at > max_age:
        return None
    if unreadable(record):
        log.warning(
            "risk model %s was stored by an older version (pickle): not loaded; this run refits", record.version
        )
        return None
    try:
        return FittedModel.from_bytes(record.blob), record.version
    except ValueError as exc:  # a format this version does not read: refit rather than fail the run
        log.warning("risk model %s cannot be read (%s): this run refits", record.version, exc)
        return None


def save_model(session: Session, model: FittedModel, version: str) -> RiskModelRecord:
    """Store a newly fitted model in the caller's transaction. If the model before it was an
    older version's pickle, the new model's note says that it was refitted for that reason."""
    note = model.note
    previous = newest(session)
    if previous is not None and unreadable(previous):
        note = f"{LEGACY_NOTE.format(version=previous.version)} {note}"
        log.warning(
            "risk model %s replaces %s, an older version's pickle that was not loaded", version, previous.version
        )
    record = RiskModelRecord(
        version=version,
        kind=model.kind,
        data_window=json.dumps(model.data_window, default=str),
        metrics=json.dumps(model.metrics, default=float),
        note=note,
        n_rows=model.n_rows,
        blob=model.to_bytes(),
    )
    session.add(record)
    return record
