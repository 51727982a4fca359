"""Early-warning indicators (预警指标体系): thresholds an admin sets, breaches the snapshot records.

Each indicator reads one figure of a snapshot scope (the metric dictionary's definition) and
is breached when the figure exceeds its threshold. The thresholds are versioned (a new row per
save, audited); a snapshot evaluates the version in force and keeps its breaches, so the
dashboard shows what was breached on that day under which thresholds.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm.models import Customer
from crm.models.review import ACTIVE_STATES, ReviewCase
from crm.models.workspace import WarningThresholds


class ThresholdError(ValueError):
    """A threshold could not be saved; the message says why."""


@dataclass(frozen=True)
class Indicator:
    code: str
    label: object  # a lazy string
    unit: str  # 'share' (a fraction, shown as %) or 'count'
    default: Decimal
    owners: tuple[str, ...]  # the roles whose start page shows a breach (account managers: their own scope)


INDICATORS = (
    Indicator("watchlist_share", _l("Watchlist share"), "share", Decimal("0.10"), ("admin", "risk_officer")),
    Indicator(
        "loss_ratio_by_tier",
        _l("Loss ratio of a tier"),
        "share",
        Decimal("1.00"),
        ("admin", "risk_officer", "account_manager"),
    ),
    Indicator(
        "overdue_cases",
        _l("Overdue review cases"),
        "count",
        Decimal("10"),
        ("admin", "underwriter", "claims_reviewer", "risk_officer", "account_manager"),
    ),
    Indicator("benefit_cost_ratio", _l("Benefit cost ratio"), "share", Decimal("0.05"), ("admin", "account_manager")),
    Indicator(
        "pending_over_180",
        _l("Pending claims over 180 days"),
        "count",
        Decimal("20"),
        ("admin", "claims_reviewer", "risk_officer"),
    ),
)
BY_CODE = {i.code: i for i in INDICATORS}


def current(session: Session) -> tuple[int | None, dict[str, Decimal]]:
    """(version id or None for the defaults, {code: threshold}) in force."""
    row = session.scalar(select(WarningThresholds).order_by(WarningThresholds.id.desc()).limit(1))
    values = {i.code: i.default for i in INDICATORS}
    if row is not None:
        values.update({k: Decimal(v) for k, v in json.loads(row.thresholds).items() if k in BY_CODE})
    return (row.id if row else None), values


def history(session: Session, limit: int = 20) -> list[WarningThresholds]:
    return list(session.scalars(select(WarningThresholds).order_by(WarningThresholds.id.desc()).limit(limit)))


def save(session: Session, actor: audit.Actor, values: dict[str, Decimal]) -> WarningThresholds:
    """A new version of the thresholds (audited with the old ones); raises ThresholdError."""
    clean = {}
    for code, value in values.items():
        if code not in BY_CODE:
            raise ThresholdError(f"unknown indicator {code!r}")
        try:
            value = Decimal(value)
        except (InvalidOperation, TypeError):
            raise ThresholdError(f"{code}: not a number") from None
        if value < 0 or (code != "loss_ratio_by_tier" and BY_CODE[code].unit == "share" and value > 1):
            raise ThresholdError(f"{code}: out of range")
        clean[code] = value
    _, before = current(session)
    row = WarningThresholds(thresholds=json.dumps({k: str(v) for k, v in clean.items()}), created_by=actor.label)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change(
            "warnings.thresholds",
            "warning_thresholds",
            row.id,
            {k: str(v) for k, v in before.items()},
            {k: str(v) for k, v in clean.items()},
        ),
    )
    return row


def overdue_cases(session: Session, as_of: dt.date) -> dict[int, int]:
    """Active review cases past their SLA date at as_of, per account manager of the customer (0: none)."""
    rows = session.execute(
        select(Customer.account_manager_id, func.count())
        .select_from(ReviewCase)
        .join(Customer, Customer.id == ReviewCase.customer_id)
        .where(ReviewCase.state.in_(ACTIVE_STATES), ReviewCase.due_on < as_of)
        .group_by(Customer.account_manager_id)
    )
    return {int(manager or 0): int(n) for manager, n in rows}


def _figures_of(scope: dict, overdue: int) -> dict[str, list[tuple[str, float | None]]]:
    """Each indicator's figures in one scope: [(subject, value)] (a tier per row for the loss ratio)."""
    pending_181 = sum(r["count"] for r in scope.get("pending", []) if r["band"] == "181+")
    return {
        "watchlist_share": [("", scope.get("warnings", {}).get("watchlist_share"))],
        "loss_ratio_by_tier": [
            (r["key"], r["loss_ratio"]) for r in scope.get("loss_ratio", {}).get("tier", []) if r["key"] != "unscored"
        ],
        "overdue_cases": [("", overdue)],
        "benefit_cost_ratio": [("", (scope.get("benefits") or {}).get("cost_ratio"))],
        "pending_over_180": [("", pending_181)],
    }


def evaluate(scopes: dict[str, dict], thresholds: dict[str, Decimal], overdue: dict[int, int]) -> None:
    """Add each scope's breaches (``early_warnings``) to its figures, in place."""
    for name, scope in scopes.items():
        manager = int(name.split(":")[1]) if name.startswith("manager:") else None
        count = sum(overdue.values()) if manager is None else overdue.get(manager, 0)
        breaches = []
        for code, values in _figures_of(scope, count).items():
            limit = thresholds[code]
            for subject, value in values:
                if value is not None and Decimal(str(value)) > limit:
                    breaches.append({"code": code, "subject": subject, "value": value, "threshold": str(limit)})
        scope["early_warnings"] = breaches


def visible_breaches(figures: dict | None, role: str) -> list[dict]:
    """The breaches of a scope that this role owns."""
    return [b for b in (figures or {}).get("early_warnings", []) if role in BY_CODE[b["code"]].owners]
