"""Manual entry of a policy or a claim for an existing customer: the other way business arrives.

Fields are checked by the importer's own row parsers (crm.import_rows, on crm.validators), so
a typed-in record obeys exactly the rules of an imported one. Record times are the server's;
the person entering is recorded, and the same routing as for imports opens review cases
(late entry, cover after loss, watchlist, large claim, fraud flag, VIP claims channel). A claim
on cover entered after its loss is not entered approved or paid until a risk officer approved
the cover (crm.review.outcomes), nor a black-listed customer's claim at all (a risk officer
decides it through its case). The first record entered by hand closes the initial load
(crm.initial_load): from then on the database holds everyday business.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import audit, initial_load
from crm.db import utcnow
from crm.import_rows import claim_dates_fit, parse_claim, parse_policy
from crm.models import Claim, Customer, Policy, User
from crm.records import cover_pending
from crm.review.blacklist_routing import is_black
from crm.review.routing import Origin, route_claims, route_policies

COVER_PENDING = _l(
    "the policy was entered after the loss: the claim is neither approved nor paid until a risk"
    " officer approves the cover (enter it as reported)"
)


BLACK_LISTED = _l(
    "the customer is on the black list: a risk officer decides each of their claims (enter it as reported)"
)


@dataclass
class EntryInvalid(Exception):
    """The entry was refused; ``problems`` maps each field to its message."""

    problems: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.problems.items())


@dataclass(frozen=True)
class Entered:
    record: Policy | Claim
    case_ids: list[int]


def _raise_if(problems: list[tuple[str, str]]) -> None:
    if problems:
        out: dict[str, str] = {}
        for column, message in problems:
            out.setdefault(column, message)
        raise EntryInvalid(out)


def _insert(session: Session, record, key: str, label: str) -> None:
    """Add ``record``; its unique key is the last guard against entering it twice."""
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        raise EntryInvalid({key: f"{label} {getattr(record, key)} exists already"}) from None


def enter_policy(session: Session, user: User, actor: audit.Actor, form: dict[str, str], today: dt.date) -> Entered:
    """Store a new policy typed in by ``user`` on the business day ``today`` (unused: a policy may
    start later). Raises EntryInvalid with every field problem."""
    values, problems = parse_policy(form)
    customer_id = None
    if values["customer_ref"]:
        customer_id = session.scalar(select(Customer.id).where(Customer.customer_ref == values["customer_ref"]))
        if customer_id is None:
            problems.append(("customer_ref", f"no customer {values['customer_ref']}"))
    if values["policy_no"] and session.scalar(select(Policy.id).where(Policy.policy_no == values["policy_no"])):
        problems.append(("policy_no", f"policy {values['policy_no']} exists already"))
    _raise_if(problems)
    now = utcnow()
    policy = Policy(
        **{k: v for k, v in values.items() if k != "customer_ref"},
        customer_id=customer_id,
        entered_by_id=user.id,
        created_at=now,
        updated_at=now,
    )
    _insert(session, policy, "policy_no", "policy")
    initial_load.close(session, actor)  # business entered by hand: the initial load is over
    audit.record(
        session,
        actor,
        audit.Change(
            "policy.enter", "policy", policy.id, None, {**{k: v for k, v in values.items()}, "customer_id": customer_id}
        ),
    )
    cases = route_policies(session, [policy.id], [], Origin(actor, entered_by_id=user.id))
    return Entered(policy, cases)


def enter_claim(session: Session, user: User, actor: audit.Actor, form: dict[str, str], today: dt.date) -> Entered:
    """Store a new claim typed in by ``user`` on the business day ``today``. Raises EntryInvalid
    with every field problem (the importer's rules, the claim's dates against its policy's cover)."""
    values, problems = parse_claim(form)
    policy = None
    if values["policy_no"]:
        policy = session.scalar(select(Policy).where(Policy.policy_no == values["policy_no"]))
        if policy is None:
            problems.append(("policy_no", f"no policy {values['policy_no']}"))
        else:
            problems += claim_dates_fit(values, policy.start_date, policy.end_date, today)
            if values["status"] in ("approved", "paid") and values["loss_date"]:
                if cover_pending(session, policy, values["loss_date"]):
                    problems.append(("status", str(COVER_PENDING)))
            if values["status"] in ("approved", "paid") and is_black(session, policy.customer_id):
                problems.append(("status", str(BLACK_LISTED)))
    if values["claim_no"] and session.scalar(select(Claim.id).where(Claim.claim_no == values["claim_no"])):
        problems.append(("claim_no", f"claim {values['claim_no']} exists already"))
    _raise_if(problems)
    now = utcnow()
    claim = Claim(
        **{k: v for k, v in values.items() if k != "policy_no"},
        policy_id=policy.id,
        customer_id=policy.customer_id,
        entered_by_id=user.id,
        created_at=now,
        updated_at=now,
    )
    _insert(session, claim, "claim_no", "claim")
    initial_load.close(session, actor)
    audit.record(
        session,
        actor,
        audit.Change(
            "claim.enter",
            "claim",
            claim.id,
            None,
            {**values, "policy_id": policy.id, "customer_id": policy.customer_id},
        ),
    )
    cases = route_claims(session, [claim.id], Origin(actor, entered_by_id=user.id))
    return Entered(claim, cases)
