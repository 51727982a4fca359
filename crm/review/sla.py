"""The review rules in force (SLA days per queue, thresholds, holidays) and working-day arithmetic.

The rules carry legal weight (an SLA a regulator may ask about), so they are versioned like
the tier policy: each change is a new row, never an edit, made by an admin and audited. A
case remembers the version that set its due date.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm.clock import business_today
from crm.models.review import ReviewSettingsVersion


class SettingsError(ValueError):
    """The review settings are invalid; the message names the setting."""


@dataclass(frozen=True)
class ReviewSettings:
    sla_underwriting_days: int = 5
    sla_claims_days: int = 5
    sla_vip_claims_days: int = 3
    large_claim_amount: Decimal = Decimal("50000.00")
    late_entry_days: int = 30
    holidays: tuple[dt.date, ...] = field(default_factory=tuple)
    auto_assign: bool = False  # the scheduler assigns open cases round-robin
    version: str = "default"

    def sla_days(self, queue: str, fast_track: bool) -> int:
        if queue == "claims":
            return self.sla_vip_claims_days if fast_track else self.sla_claims_days
        return self.sla_underwriting_days

    def today(self, now: dt.datetime | None = None) -> dt.date:
        """Today's (or ``now``'s) date in the business time zone, CRM_TIMEZONE (record times are UTC)."""
        return business_today(now=now)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["large_claim_amount"] = str(self.large_claim_amount)
        data["holidays"] = [d.isoformat() for d in self.holidays]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ReviewSettings:
        """Build and check settings; raises SettingsError naming the bad one."""
        # Versions saved before the review rules followed CRM_TIMEZONE carry a zone of their own.
        values = {**asdict(cls()), **{k: v for k, v in data.items() if k != "timezone"}}
        for name in ("sla_underwriting_days", "sla_claims_days", "sla_vip_claims_days", "late_entry_days"):
            try:
                values[name] = int(values[name])
            except (TypeError, ValueError):
                raise SettingsError(f"{name} must be a whole number") from None
            if not 1 <= values[name] <= 365:
                raise SettingsError(f"{name} must be between 1 and 365")
        try:
            values["large_claim_amount"] = Decimal(str(values["large_claim_amount"])).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise SettingsError(_l("large_claim_amount must be an amount")) from None
        if values["large_claim_amount"] <= 0:
            raise SettingsError(_l("large_claim_amount must be positive"))
        try:
            values["holidays"] = tuple(
                sorted({d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for d in values["holidays"]})
            )
        except (TypeError, ValueError):
            raise SettingsError(_l("holidays must be dates written YYYY-MM-DD")) from None
        values["auto_assign"] = bool(values["auto_assign"])
        return cls(**values)


def is_working_day(day: dt.date, holidays: tuple[dt.date, ...] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: dt.date, days: int, holidays: tuple[dt.date, ...] = ()) -> dt.date:
    """The date ``days`` working days after ``start`` (weekends and holidays skipped).

    Friday + 3 = Wednesday; a case opened on a Saturday + 1 = Monday.
    """
    day = start
    left = days
    while left > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day, holidays):
            left -= 1
    return day


def current_settings(session: Session) -> ReviewSettings:
    """The newest stored version, else the defaults."""
    row = session.scalar(select(ReviewSettingsVersion).order_by(ReviewSettingsVersion.id.desc()).limit(1))
    if row is None:
        return ReviewSettings()
    return ReviewSettings.from_dict({**json.loads(row.settings), "version": row.version})


def save_settings(session: Session, actor: audit.Actor, values: dict, note: str = "") -> ReviewSettings:
    """Store a new version (old ones are never edited); audited. Raises SettingsError.

    The unique version name is the guard against two admins saving 'v3' at once.
    """
    previous = current_settings(session)
    count = session.scalar(select(func.count()).select_from(ReviewSettingsVersion))
    version = f"v{count + 1}"
    settings = ReviewSettings.from_dict({**previous.to_dict(), **values, "version": version})
    stored = {k: v for k, v in settings.to_dict().items() if k != "version"}
    session.add(
        ReviewSettingsVersion(
            version=version, settings=json.dumps(stored, sort_keys=True), note=note[:500], created_by=actor.label
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change("review_settings.version", "review_settings", version, previous.to_dict(), settings.to_dict()),
    )
    return settings
