"""Helpers for the review-queue tests: a small portfolio through the real importer, tiers set
directly (as a recalculation would leave them), and entry through the real service."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from crm.audit import Actor
from crm.importer import import_csv
from crm.models import Claim, Customer, CustomerTier, Policy, User
from crm.models.review import ReviewCase
from tests.factories import claim_row, customer_row, policy_row, write_csv

ACTOR = Actor("system", "tests")
_files = itertools.count()


FIRST_ADMIN = Actor("user", "first-admin@test.crm", "997", "admin")  # asks for an initial load
SECOND_ADMIN = Actor("user", "second-admin@test.crm", "998", "admin")


def load(database, tmp_path, kind: str, rows: list[dict], initial_load: bool = False, user_id=None):
    path = write_csv(tmp_path / f"{kind}{next(_files)}.csv", rows)
    return (
        import_historical(database, kind, path, user_id=user_id)
        if initial_load
        else import_csv(database, kind, path, ACTOR, user_id=user_id)
    )


def import_historical(database, kind: str, path, user_id=None):
    """An initial-load import as the product allows it: while the initial load is open, or once a
    second admin has approved the file."""
    from crm import initial_load
    from crm.importer import ImportFailed

    try:
        return import_csv(database, kind, path, FIRST_ADMIN, initial_load=True, user_id=user_id)
    except ImportFailed as exc:
        if "initial load is closed" not in str(exc):
            raise
    with database.transaction() as s:
        [request] = [r for r in initial_load.requests(s) if r.filename == path.name]
        initial_load.approve(s, SECOND_ADMIN, request.id)
    return import_csv(database, kind, path, FIRST_ADMIN, initial_load=True, user_id=user_id)


def customer(database, tmp_path, tier: str = "standard", risk: str = "10", manager: str = "", **kw) -> dict:
    """A customer (optionally in a manager's portfolio) with a tier; returns its row plus 'id'."""
    row = customer_row(account_manager=manager, **kw)
    load(database, tmp_path, "customers", [row], initial_load=True)
    with database.transaction() as s:
        cid = s.scalar(select(Customer.id).where(Customer.customer_ref == row["customer_ref"]))
        s.add(
            CustomerTier(
                customer_id=cid,
                tier=tier,
                reasons="",
                computed_tier=tier,
                computed_reasons="",
                value_score=0,
                risk_score=risk,
            )
        )
    return {**row, "id": cid}


def policy(database, tmp_path, cust: dict, initial_load: bool = False, user_id=None, **kw) -> dict:
    row = policy_row(cust["customer_ref"], **kw)
    load(database, tmp_path, "policies", [row], initial_load=initial_load, user_id=user_id)
    return row


def claim(database, tmp_path, pol: dict, initial_load: bool = False, user_id=None, **kw) -> dict:
    row = claim_row(pol["policy_no"], **kw)
    load(database, tmp_path, "claims", [row], initial_load=initial_load, user_id=user_id)
    return row


def cases(database, **where) -> list[ReviewCase]:
    with database.session() as s:
        stmt = select(ReviewCase).order_by(ReviewCase.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(ReviewCase, k) == v)
        return list(s.scalars(stmt))


def reasons(database) -> set[tuple[str, str]]:
    """(subject key, reason) of every case: policy_no or claim_no."""
    with database.session() as s:
        rows = s.execute(
            select(ReviewCase.reason, Policy.policy_no, Claim.claim_no)
            .outerjoin(Policy, Policy.id == ReviewCase.policy_id)
            .outerjoin(Claim, Claim.id == ReviewCase.claim_id)
        ).all()
    return {(r.policy_no or r.claim_no, r.reason) for r in rows}


def user(database, user_id: int) -> User:
    with database.session() as s:
        return s.get(User, user_id)


def insurer_today() -> dt.date:
    """Today where the insurer is (the routing counts business days in Asia/Shanghai)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def days_ago(n: int) -> str:
    return (insurer_today() - dt.timedelta(days=n)).isoformat()


def claimable_case(database, tmp_path, queue: str = "claims", **kw) -> ReviewCase:
    """One open case in ``queue`` (a large claim, or a late-entry policy)."""
    cust = customer(database, tmp_path, **kw)
    pol = policy(
        database,
        tmp_path,
        cust,
        initial_load=queue == "claims",
        start_date=days_ago(100) if queue == "underwriting" else "2022-01-01",
    )
    if queue == "claims":
        claim(database, tmp_path, pol, claimed_amount="90000.00")
    return cases(database, queue=queue)[-1]
