"""Review queues follow the tiers: a tier move sweeps the business already in the books.

Routing (crm.review.routing) looks at records as they arrive, so a customer who moves tier
later has business that arrived before the move and sits in no queue. On a move:

- into the **watchlist**: each open claim (reported, registered, under review, approved) gets
  a claims-review case (``watchlist_claim``), each policy not yet in force an underwriting
  case (``watchlist_new_business``), and each policy with a pending change one
  (``watchlist_policy_change``). A policy's only change that waits in this application is a
  void (cancellation) request waiting for its second person (crm.records.void_record): the
  underwriter's decision confirms or withdraws it (crm.review.outcomes). Changes that arrive
  by import are made already (the core system's) and routed as they arrive;
- into **VIP**: the customer's active cases are fast-tracked (the fast-track priority and the
  VIP claims SLA, the due date counted again from the day each case was opened), and each open
  claim that no active case reviews opens one in the VIP claims channel (``vip_claim``);
- out of **VIP**: the customer's active cases go back to the normal priority and SLA.

Run by TiersChanged (crm.review.subscriptions) in the transaction that delivers the moves,
acting on the customer's tier as it is then (a late batch cannot undo a later move). Each
case opened names its subject's own entrant (four eyes). Idempotent: cases are opened under
the unique (subject, reason) constraints with ON CONFLICT DO NOTHING, and the fast track is
changed only on cases not already so, so a second delivery or run opens and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, func, select, text
from sqlalchemy.orm import Session

from crm import audit, events
from crm.bulk import any_of
from crm.models import Claim, CustomerTier, ImportBatch, Policy
from crm.models.review import ACTIVE_STATES, OPEN_CLAIM_STATUSES, ReviewCase
from crm.review.routing import Origin, _case, _chunks, _open, _route_blacklisted, priority
from crm.review.sla import add_working_days, current_settings


def follow_tier_moves(session: Session, moves, actor: audit.Actor) -> list[int]:
    """Sweep the customers of ``moves`` (TiersChanged's) into the queues their new tier calls
    for; returns the ids of the cases opened."""
    groups = events.moves_by_pair(moves)
    moved_to = {
        tier: sorted({i for (_old, new), ids in groups.items() if new == tier for i in ids})
        for tier in ("watchlist", "vip")
    }
    left_vip = sorted({i for (old, new), ids in groups.items() if old == "vip" and new != "vip" for i in ids})
    origin = Origin(actor=actor)
    opened: list[int] = []
    if left_vip or moved_to["vip"]:
        _true_statistics(session)
    if left_vip:
        set_fast_track(session, _tier_now(session, left_vip, "vip", inside=False), False, actor)
    if moved_to["watchlist"]:
        opened += sweep_watchlist(session, _tier_now(session, moved_to["watchlist"], "watchlist"), origin)
    if moved_to["vip"]:
        vips = _tier_now(session, moved_to["vip"], "vip")
        set_fast_track(session, vips, True, actor)
        opened += sweep_vip_claims(session, vips, origin)
    return opened


def _true_statistics(session: Session) -> None:
    """PostgreSQL: bring review_cases' planner statistics up to date before reading its cases
    by customer (set_fast_track) and by claim (sweep_vip_claims). A delivery opens cases by the
    thousand (a first run's new watchlist), and autovacuum looks again only a minute later:
    planned for the near-empty table of the statistics, each chunk's read scanned every active
    case (a first run at 1M: 40 s of its delivery; ANALYZE samples the table in milliseconds).
    SQLite keeps no statistics unless asked; without them it reads these by their indexes."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE review_cases"))


def _tier_now(session: Session, customer_ids: Sequence[int], tier: str, inside: bool = True) -> list[int]:
    """Those of ``customer_ids`` whose current tier is ``tier`` (``inside``), or is not."""
    found: list[int] = []
    matches = CustomerTier.tier == tier if inside else CustomerTier.tier != tier
    for part in _chunks(list(customer_ids)):
        found += session.scalars(
            select(CustomerTier.customer_id).where(any_of(session, CustomerTier.customer_id, part), matches)
        ).all()
    return sorted(found)


def _entered(session: Session, model, customer_ids: Sequence[int], *where):
    """The customers' claims or policies (``model``) that are not void and match ``where``,
    with who entered each (by hand, or the import's uploader) and the customer's risk score."""
    return (
        select(
            model.id,
            model.customer_id,
            func.coalesce(model.entered_by_id, ImportBatch.user_id).label("entered_by_id"),
            CustomerTier.risk_score,
        )
        .outerjoin(ImportBatch, ImportBatch.id == model.import_batch_id)
        .outerjoin(CustomerTier, CustomerTier.customer_id == model.customer_id)
        .where(any_of(session, model.customer_id, customer_ids), model.voided_at.is_(None), *where)
        .order_by(model.id)
    )


def _open_claims(session: Session, customer_ids: Sequence[int]):
    return _entered(session, Claim, customer_ids, Claim.status.in_(OPEN_CLAIM_STATUSES))


def _policies(session: Session, customer_ids: Sequence[int], *where):
    return _entered(session, Policy, customer_ids, *where)


def _not_in_force_yet(today):
    """Policies whose cover has not started: the customer's new business still to underwrite."""
    return (Policy.status == "in_force", Policy.start_date > today)


_PENDING_CHANGE = (Policy.void_requested_by.is_not(None),)  # a void request waiting for its second person


def sweep_watchlist(session: Session, customer_ids: Sequence[int], origin: Origin) -> list[int]:
    """Open the watchlist's cases for the customers' open claims, their policies not yet in
    force and those with a pending change."""
    settings = current_settings(session)
    today = settings.today()
    opened: list[int] = []
    for part in _chunks(list(customer_ids)):
        cases = [
            _case("claims", "watchlist_claim", r, r.risk_score, False, "entered_watchlist", claim_id=r.id)
            | {"entered_by_id": r.entered_by_id}
            for r in session.execute(_open_claims(session, part))
        ]
        for reason, where, why in (
            ("watchlist_new_business", _not_in_force_yet(today), "entered_watchlist_not_started"),
            ("watchlist_policy_change", _PENDING_CHANGE, "entered_watchlist_void_request"),
        ):
            cases += [
                _case("underwriting", reason, r, r.risk_score, False, why, policy_id=r.id)
                | {"entered_by_id": r.entered_by_id}
                for r in session.execute(_policies(session, part, *where))
            ]
        opened += _open(session, cases, settings, origin)
    return opened


def sweep_blacklisted(session: Session, customer_ids: Sequence[int], actor: audit.Actor) -> list[int]:
    """A customer put on the black list: each open claim and each policy not yet in force goes
    to a risk officer (the cases black-listed business opens as it arrives, escalated at once)."""
    today = current_settings(session).today()
    rows = {
        "claims": [session.execute(_open_claims(session, part)).all() for part in _chunks(list(customer_ids))],
        "underwriting": [
            session.execute(_policies(session, part, *_not_in_force_yet(today))).all()
            for part in _chunks(list(customer_ids))
        ],
    }
    return [
        i
        for queue, parts in rows.items()
        for part in parts
        for i in _route_blacklisted(queue, part, session, Origin(actor=actor))
    ]


def sweep_vip_claims(session: Session, customer_ids: Sequence[int], origin: Origin) -> list[int]:
    """Put each open claim of the customers that no active case reviews in the VIP claims channel."""
    settings = current_settings(session)
    reviewed = exists().where(ReviewCase.claim_id == Claim.id, ReviewCase.state.in_(ACTIVE_STATES))
    opened: list[int] = []
    for part in _chunks(list(customer_ids)):
        cases = [
            _case("claims", "vip_claim", r, r.risk_score, True, "entered_vip", claim_id=r.id)
            | {"entered_by_id": r.entered_by_id}
            for r in session.execute(_open_claims(session, part).where(~reviewed))
        ]
        opened += _open(session, cases, settings, origin)
    return opened


def set_fast_track(session: Session, customer_ids: Sequence[int], on: bool, actor: audit.Actor) -> int:
    """Fast-track the customers' active cases (``on``) or return them to normal: priority, SLA
    and due date (counted from the day each case was opened). Audited; returns how many changed."""
    settings = current_settings(session)
    changes = []
    for part in _chunks(list(customer_ids)):
        for case in session.scalars(
            select(ReviewCase)
            .where(
                any_of(session, ReviewCase.customer_id, part),
                ReviewCase.state.in_(ACTIVE_STATES),
                ReviewCase.fast_track.is_(not on),
            )
            .order_by(ReviewCase.id)
        ):
            before = {"fast_track": case.fast_track, "priority": case.priority, "due_on": case.due_on}
            case.fast_track = on
            case.priority = priority(on, case.risk_score)
            case.sla_days = settings.sla_days(case.queue, on)
            case.due_on = add_working_days(settings.today(case.created_at), case.sla_days, settings.holidays)
            case.settings_version = settings.version
            after = {"fast_track": on, "priority": case.priority, "due_on": case.due_on}
            changes.append(audit.Change("review_case.fast_track", "review_case", case.id, before, after))
    session.flush()
    if changes:
        audit.record(session, actor, changes)
    return len(changes)
