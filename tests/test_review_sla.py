"""SLA arithmetic over weekends and holidays (hand-computed), and versioned settings."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm.models import AuditEvent
from crm.review.sla import ReviewSettings, SettingsError, add_working_days, current_settings, save_settings
from tests.review_helpers import ACTOR, claimable_case

FRI, SAT, SUN, MON = dt.date(2025, 6, 6), dt.date(2025, 6, 7), dt.date(2025, 6, 8), dt.date(2025, 6, 9)


@pytest.mark.parametrize(
    "start, days, due",
    [
        (FRI, 3, dt.date(2025, 6, 11)),  # Friday + 3 working days = Wednesday
        (FRI, 5, dt.date(2025, 6, 13)),  # + 5 = the next Friday
        (FRI, 1, MON),
        (SAT, 1, MON),  # opened on a weekend: Monday is the first working day
        (SUN, 3, dt.date(2025, 6, 11)),
        (MON, 5, dt.date(2025, 6, 16)),  # Monday + 5 = next Monday
        (dt.date(2025, 6, 4), 3, dt.date(2025, 6, 9)),  # Wednesday + 3 = Monday
    ],
)
def test_working_days_skip_weekends(start, days, due):
    assert add_working_days(start, days) == due


def test_holidays_are_skipped_too():
    # National Day week 2025: Wed 1 Oct – Wed 8 Oct off; Tuesday 30 Sep + 3 → Thu 9, Fri 10, Mon 13.
    holidays = tuple(dt.date(2025, 10, d) for d in range(1, 9))
    assert add_working_days(dt.date(2025, 9, 30), 3, holidays) == dt.date(2025, 10, 13)


def test_defaults_are_3_for_vip_claims_and_5_otherwise():
    s = ReviewSettings()
    assert (s.sla_days("claims", True), s.sla_days("claims", False), s.sla_days("underwriting", False)) == (3, 5, 5)


def test_settings_are_versioned_audited_validated_and_used(database, tmp_path):
    with database.transaction() as session:
        assert current_settings(session).version == "default"
        save_settings(session, ACTOR, {"sla_claims_days": 4, "holidays": ["2025-10-01"]}, "board decision")
        save_settings(session, ACTOR, {"large_claim_amount": "80000"}, "second")
    with database.session() as session:
        s = current_settings(session)
        assert (s.version, s.sla_claims_days, str(s.large_claim_amount), s.holidays) == (
            "v2",
            4,
            "80000.00",
            (dt.date(2025, 10, 1),),
        )
        events = session.scalars(select(AuditEvent.entity_id).where(AuditEvent.action == "review_settings.version"))
        assert list(events) == ["v1", "v2"]
    with database.transaction() as session, pytest.raises(SettingsError, match="sla_claims_days"):
        save_settings(session, ACTOR, {"sla_claims_days": 0})
    # A new case takes its due date from the version in force.
    case = claimable_case(database, tmp_path)
    with database.session() as session:
        today = current_settings(session).today()
    assert (case.sla_days, case.settings_version, case.due_on) == (4, "v2", add_working_days(today, 4, s.holidays))
