"""The entitlement ledger: append-only entries whose sum is a customer's balance of a benefit
in a period (grant/renew/return/resume add, consume/stop/suspend take away).

Exactly-once guards are unique keys (``once_key``), never read-then-write: one grant per
customer, benefit and period (``grant:…``, shared by the tier event and the renewal job, so
the second of two concurrent renewals inserts nothing); each unit taken by a consumer has the
next number (``use:…:N``), so two consumers racing for the last unit cannot both take it.
Bulk paths (tier moves, renewal) insert with ON CONFLICT DO NOTHING and audit in chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, and_, case, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import audit, record_digests
from crm.benefits import partner_port
from crm.benefits.catalogue import Benefit, Catalogue, period_bounds, prorated
from crm.benefits.services import BenefitError
from crm.bulk import IDS_PER_STATEMENT, id_in, id_rows, ids_param, typed_text
from crm.db import UTCDateTime, utcnow
from crm.models import CustomerTier
from crm.models.benefits import EntitlementEntry

CHUNK = 900  # ids per IN list / rows per audit event: well under SQLite's variable limit
ENTRIES = EntitlementEntry.__table__


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def grant_key(customer_id: int, code: str, period_start: dt.date) -> str:
    return f"grant:{customer_id}:{code}:{period_start.isoformat()}"


def _row(
    customer_id: int,
    benefit: Benefit,
    as_of: dt.date,
    entry_type: str,
    quantity: int,
    once_key: str | None,
    version: int | None,
    note: str = "",
) -> dict:
    start, end = period_bounds(benefit.period, as_of)
    return {
        "customer_id": customer_id,
        "benefit_code": benefit.code,
        "kind": benefit.kind,
        "period_start": start,
        "period_end": end,
        "entry_type": entry_type,
        "quantity": quantity,
        "once_key": once_key,
        "catalogue_version": version,
        "note": note,
    }


def insert_entries(session: Session, actor: audit.Actor, rows: list[dict], action: str) -> list:
    """Insert ledger rows in bulk, skipping any whose once_key exists; audits what was inserted.

    Returns the inserted rows (id, customer_id, benefit_code, period_start, entry_type, quantity).
    """
    if not rows:
        return []
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(ENTRIES)
        .on_conflict_do_nothing(index_elements=["once_key"])
        .returning(
            ENTRIES.c.id,
            ENTRIES.c.customer_id,
            ENTRIES.c.benefit_code,
            ENTRIES.c.period_start,
            ENTRIES.c.entry_type,
            ENTRIES.c.quantity,
        )
    )
    done = []
    for part in chunks(rows):
        done += session.execute(stmt, part).all()
    record_digests.write(session, "entitlement_entries", (row[0] for row in done))
    _audit_entries(session, actor, done, action)
    return done


def _audit_entries(session: Session, actor: audit.Actor, done: list, action: str) -> None:
    iso = {day: day.isoformat() for day in {r[3] for r in done}}  # a few periods' first days
    for part in chunks(done, 2000):
        audit.record(
            session,
            actor,
            audit.Change(
                action,
                "entitlement",
                None,
                None,
                {
                    "entries": [
                        [i, cid, code, iso[start], entry_type, quantity]
                        for i, cid, code, start, entry_type, quantity in part
                    ]
                },
            ),
        )


# One keyed entry (grant or renew) per customer of the bound ids (crm.bulk.id_rows), the rest
# the same for all: a statement per benefit, not a row of parameters per customer (a first
# run makes tens of thousands of new VIPs, each with several entries).
_KEYED = """INSERT INTO entitlement_entries (customer_id, benefit_code, kind, period_start, period_end, entry_type,
                                         quantity, once_key, catalogue_version, note, created_at)
    SELECT i.value, :code, :kind, :start, :end, :entry_type, :quantity,
           CAST(:key_head AS TEXT) || CAST(i.value AS TEXT) || CAST(:key_tail AS TEXT), :version, '', :now
    FROM ({ids}) AS i WHERE true
    ON CONFLICT (once_key) DO NOTHING RETURNING id, customer_id"""  # WHERE: SQLite's parser needs one before ON


def insert_keyed(
    session: Session,
    actor: audit.Actor,
    groups: list[tuple[Benefit, list[int]]],
    as_of: dt.date,
    entry_type: str,
    quantity_of,
    version: int | None,
    action: str,
) -> int:
    """For each (benefit, customer ids) of ``groups``, each customer's keyed entry (once_key:
    grant_key) for the period of ``as_of``, ``quantity_of(benefit)`` units, skipping those
    whose key exists (granted or renewed already: exactly once, even against a concurrent
    renewal); audits what was inserted. Returns how many entries were inserted."""
    dialect = session.get_bind().dialect.name
    stmt = typed_text(_KEYED.format(ids=id_rows(dialect)), start=Date(), end=Date(), now=UTCDateTime())
    now, done = utcnow(), []
    for b, customer_ids in groups:
        start, end = period_bounds(b.period, as_of)
        head, tail = grant_key(0, b.code, start).split(":0:", 1)  # grant_key's text around the id
        quantity = quantity_of(b)
        constants = {
            "code": b.code,
            "kind": b.kind,
            "start": start,
            "end": end,
            "entry_type": entry_type,
            "quantity": quantity,
            "key_head": f"{head}:",
            "key_tail": f":{tail}",
            "version": version,
            "now": now,
        }
        for part in chunks(customer_ids, IDS_PER_STATEMENT):
            rows = sorted(session.execute(stmt, {**constants, "ids": ids_param(dialect, part)}).all())
            done.append(
                (
                    {
                        "benefit": b.code,
                        "period_start": start.isoformat(),
                        "entry_type": entry_type,
                        "quantity": quantity,
                    },
                    rows,
                )
            )
    record_digests.write(session, "entitlement_entries", (i for _shared, rows in done for i, _customer in rows))
    _audit_keyed(session, actor, done, action)
    return sum(len(rows) for _, rows in done)


def _audit_keyed(
    session: Session, actor: audit.Actor, done: list[tuple[dict, list]], action: str, per_event: int = 2000
) -> None:
    """Audit events of up to ``per_event`` keyed entries each: per benefit, what its entries
    share once and their ids and customers as two lists (a first run's 306,340 grants without
    a list per entry)."""
    event, size = [], 0
    for shared, rows in done:
        start = 0
        while start < len(rows):
            part = rows[start : start + per_event - size]
            start += len(part)
            ids, customer_ids = zip(*part)
            event.append({**shared, "ids": list(ids), "customer_ids": list(customer_ids)})
            size += len(part)
            if size >= per_event:
                audit.record(session, actor, audit.Change(action, "entitlement", None, None, {"keyed": event}))
                event, size = [], 0
    if event:
        audit.record(session, actor, audit.Change(action, "entitlement", None, None, {"keyed": event}))


def _period_sums(
    session: Session,
    customer_ids: list[int],
    codes: Iterable[str],
    as_of: dt.date,
    types: tuple[str, ...] | None = None,
) -> dict[tuple[int, str], int]:
    """Sum of quantities per (customer, benefit) in the period containing ``as_of``."""
    out: dict[tuple[int, str], int] = {}
    codes, dialect = list(codes), session.get_bind().dialect.name
    of_ids = text(id_in(dialect, "entitlement_entries.customer_id"))  # the customers, as one parameter
    for part in chunks(customer_ids, IDS_PER_STATEMENT):
        where = [
            of_ids,
            ENTRIES.c.benefit_code.in_(codes),
            ENTRIES.c.period_start <= as_of,
            ENTRIES.c.period_end > as_of,
        ]
        if types:
            where.append(ENTRIES.c.entry_type.in_(types))
        stmt = (
            select(ENTRIES.c.customer_id, ENTRIES.c.benefit_code, func.sum(ENTRIES.c.quantity))
            .where(*where)
            .group_by(ENTRIES.c.customer_id, ENTRIES.c.benefit_code)
        )
        out.update(
            {(cid, code): int(total) for cid, code, total in session.execute(stmt, {"ids": ids_param(dialect, part)})}
        )
    return out


def balances(session: Session, customer_ids: list[int], codes: Iterable[str], as_of: dt.date) -> dict:
    return _period_sums(session, customer_ids, codes, as_of)


def enter_tier(
    session: Session, actor: audit.Actor, customer_ids: list[int], tier: str, as_of: dt.date, catalogue: Catalogue
) -> int:
    """Customers who moved into ``tier`` get its benefits: a pro-rated grant for the current
    period, or, if they had one this period (left and came back), what was stopped or
    suspended is resumed. Returns how many entries were inserted."""
    benefits = catalogue.for_tier(tier)
    if not benefits or not customer_ids:
        return 0
    codes = [b.code for b in benefits]
    granted = _period_sums(session, customer_ids, codes, as_of, ("grant", "renew"))
    taken = _period_sums(session, customer_ids, codes, as_of, ("stop", "suspend", "resume"))
    # Granted this period already (left and came back): what was stopped or suspended resumes.
    resumed = [
        _row(cid, b, as_of, "resume", -taken[(cid, b.code)], None, catalogue.version)
        for cid in customer_ids
        for b in benefits
        if (cid, b.code) in granted and taken.get((cid, b.code), 0) < 0
    ]
    inserted = len(insert_entries(session, actor, resumed, "benefits.granted"))
    # The others get the grant (its key skips whoever has one: ``granted`` spares the work).
    fresh = [(b, [cid for cid in customer_ids if (cid, b.code) not in granted]) for b in benefits]
    inserted += insert_keyed(
        session,
        actor,
        fresh,
        as_of,
        "grant",
        lambda b: prorated(b.quota, b.period, as_of),
        catalogue.version,
        "benefits.granted",
    )
    from crm.benefits.assistance import enrol

    enrol(session, actor, customer_ids, benefits, as_of, catalogue)
    return inserted


def leave_tier(
    session: Session,
    actor: audit.Actor,
    customer_ids: list[int],
    old_tier: str,
    new_tier: str,
    as_of: dt.date,
    catalogue: Catalogue,
) -> list:
    """Customers who left ``old_tier`` lose the current balance of its benefits (those the new
    tier lacks): ``suspend`` when they went to the watchlist, else ``stop``. Issued coupons
    stay valid unless the catalogue says to void them. Returns the inserted entries."""
    keep = {b.code for b in catalogue.for_tier(new_tier)}
    benefits = [b for b in catalogue.for_tier(old_tier) if b.code not in keep]
    if not benefits or not customer_ids:
        return []
    entry_type = "suspend" if new_tier == "watchlist" else "stop"
    left = balances(session, customer_ids, [b.code for b in benefits], as_of)
    rows = [
        _row(cid, b, as_of, entry_type, -left[(cid, b.code)], None, catalogue.version, f"left {old_tier}")
        for cid in customer_ids
        for b in benefits
        if left.get((cid, b.code), 0) > 0
    ]
    done = insert_entries(session, actor, rows, f"benefits.{'suspended' if entry_type == 'suspend' else 'stopped'}")
    from crm.benefits.assistance import end_enrolments

    end_enrolments(session, actor, customer_ids, benefits, as_of)
    if catalogue.void_coupons_on_exit and any(b.kind == "partner_coupon" for b in benefits):
        _void_coupons(session, actor, customer_ids)
    return done


def _void_coupons(session: Session, actor: audit.Actor, customer_ids: list[int]) -> None:
    """The catalogue's policy: coupons issued from entitlements are withdrawn on exit."""
    partner_port.partner_coupons().void_entitlement_coupons(session, actor, customer_ids, "customer left the VIP tier")


def renew(session: Session, actor: audit.Actor, as_of: dt.date, catalogue: Catalogue) -> int:
    """The period's full quota for every customer in a tier with benefits, unless granted
    already (then nothing: the grant key). Returns how many entries were inserted."""
    from crm.benefits.assistance import enrol

    inserted = 0
    for tier in sorted({b.tier for b in catalogue.benefits}):
        benefits = catalogue.for_tier(tier)
        ids = list(
            session.scalars(
                select(CustomerTier.customer_id).where(CustomerTier.tier == tier).order_by(CustomerTier.customer_id)
            )
        )
        for part in chunks(ids, 5000):
            inserted += insert_keyed(
                session,
                actor,
                [(b, part) for b in benefits],
                as_of,
                "renew",
                lambda b: b.quota,
                catalogue.version,
                "benefits.renewed",
            )
            enrol(session, actor, part, benefits, as_of, catalogue)
    return inserted


def current_tier(session: Session, customer_id: int) -> str | None:
    return session.scalar(select(CustomerTier.tier).where(CustomerTier.customer_id == customer_id))


def take_unit(
    session: Session, actor: audit.Actor, customer_id: int, benefit: Benefit, as_of: dt.date, note: str
) -> EntitlementEntry:
    """Consume one unit of ``benefit`` this period; returns the entry.

    Raises BenefitError when the customer is not in the benefit's tier, has none left, or
    another use took the unit at the same moment.
    """
    if current_tier(session, customer_id) != benefit.tier:
        raise BenefitError(_l("the customer is not entitled to this benefit in their current tier"))
    start, _ = period_bounds(benefit.period, as_of)
    where = and_(
        ENTRIES.c.customer_id == customer_id, ENTRIES.c.benefit_code == benefit.code, ENTRIES.c.period_start == start
    )
    balance, used = session.execute(
        select(
            func.coalesce(func.sum(ENTRIES.c.quantity), 0),
            func.coalesce(func.sum(case((ENTRIES.c.entry_type == "consume", 1), else_=0)), 0),
        ).where(where)
    ).one()
    if balance < 1:
        raise BenefitError(_l("no entitlement left for this benefit in the current period"))
    entry = EntitlementEntry(
        **_row(
            customer_id,
            benefit,
            as_of,
            "consume",
            -1,
            f"use:{customer_id}:{benefit.code}:{start.isoformat()}:{used + 1}",
            None,
            note[:200],
        )
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        raise BenefitError(_l("another use of this benefit was recorded at the same moment; try again")) from None
    audit.record(
        session,
        actor,
        audit.Change(
            "benefits.consumed",
            "entitlement",
            entry.id,
            None,
            {"customer_id": customer_id, "benefit": benefit.code, "period_start": start, "note": note[:200]},
        ),
    )
    return entry


def give_back(
    session: Session, actor: audit.Actor, consumed: EntitlementEntry, source: str, source_id: int, catalogue: Catalogue
) -> None:
    """Return the unit ``consumed`` took (once per source). If the customer has meanwhile
    left the benefit's tier, the returned unit is stopped again at once, so that it is not
    usable now but is restored with the rest if they come back this period."""
    benefit = catalogue.get(consumed.benefit_code)
    back = dict(
        customer_id=consumed.customer_id,
        benefit_code=consumed.benefit_code,
        kind=consumed.kind,
        period_start=consumed.period_start,
        period_end=consumed.period_end,
        catalogue_version=None,
    )
    rows = [
        {
            **back,
            "entry_type": "return",
            "quantity": 1,
            "once_key": f"return:{source}:{source_id}",
            "note": f"{source} {source_id}",
        }
    ]
    tier = current_tier(session, consumed.customer_id)
    if benefit is None or tier != benefit.tier:
        rows.append(
            {
                **back,
                "entry_type": "suspend" if tier == "watchlist" else "stop",
                "quantity": -1,
                "once_key": f"restop:{source}:{source_id}",
                "note": "returned after leaving the tier",
            }
        )
    insert_entries(session, actor, rows, "benefits.returned")
