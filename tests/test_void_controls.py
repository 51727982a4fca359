"""Voiding a policy in force takes two people (随意注销已生效保单); an ended one, or a claim, one."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crm.audit import Actor
from crm.models import Policy
from crm.records import RecordError, void_record
from tests.factories import customer_row, policy_row
from tests.workspace_helpers import load

TODAY = dt.date(2025, 6, 30)
FIRST = Actor("user", "first@test.crm", "1", "underwriter")
SECOND = Actor("user", "second@test.crm", "2", "admin")


def _policies(database, tmp_path) -> dict[str, int]:
    c = customer_row()
    rows = {
        "in_force": policy_row(c["customer_ref"], start_date="2024-01-01", end_date="2044-01-01"),
        "ended": policy_row(c["customer_ref"], start_date="2020-01-01", end_date="2021-01-01", status="matured"),
    }
    load(database, tmp_path, [c], list(rows.values()))
    with database.session() as s:
        ids = {p.policy_no: p.id for p in s.scalars(select(Policy))}
    return {k: ids[r["policy_no"]] for k, r in rows.items()}


def test_a_policy_in_force_needs_a_second_person(database, tmp_path):
    ids = _policies(database, tmp_path)
    with database.transaction() as s:
        policy, voided = void_record(s, FIRST, "policy", ids["in_force"], "entered for the wrong customer", TODAY)
        assert not voided and policy.void_requested_by == FIRST.label and policy.voided_at is None
    with database.transaction() as s, pytest.raises(RecordError, match="second person"):
        void_record(s, FIRST, "policy", ids["in_force"], "entered for the wrong customer", TODAY)
    with database.transaction() as s:
        policy, voided = void_record(s, SECOND, "policy", ids["in_force"], "confirmed", TODAY)
        assert voided and policy.voided_at is not None and policy.void_reason == "entered for the wrong customer"


def test_an_ended_policy_is_voided_by_one_person(database, tmp_path):
    ids = _policies(database, tmp_path)
    with database.transaction() as s:
        policy, voided = void_record(s, FIRST, "policy", ids["ended"], "a duplicate of an old record", TODAY)
    assert voided and policy.voided_at is not None
