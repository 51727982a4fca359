"""The importer's pass 2: turning validated rows into stored rows, a chunk at a time.

Keys are resolved to ids per chunk; new rows are inserted from a stage (crm.bulk.insert_staged)
and changed rows updated with Core executemany; what changed is audited (an import's creates as
one event per chunk).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from crm import audit, record_digests
from crm.bulk import IDS_PER_STATEMENT, any_of, insert_staged
from crm.db import utcnow
from crm.models import Claim, Customer, Policy, User

if TYPE_CHECKING:
    from crm.importer import ImportSummary

_MODELS = {"customers": (Customer, "customer_ref"), "policies": (Policy, "policy_no"), "claims": (Claim, "claim_no")}


def _existing(session: Session, kind_name: str, keys: list[str], *columns) -> dict:
    """Map key → row for the keys that already exist (looked up in chunks)."""
    model, key_col = _MODELS[kind_name]
    key = getattr(model, key_col)
    found = {}
    for i in range(0, len(keys), IDS_PER_STATEMENT):
        part = keys[i : i + IDS_PER_STATEMENT]
        for row in session.execute(select(key, *columns).where(any_of(session, key, part))):
            found[row[0]] = row
    return found


_COLUMNS = {  # the stored columns compared on re-import (besides the key)
    "customers": (
        "name",
        "id_number",
        "birth_date",
        "gender",
        "phone",
        "city",
        "source",
        "referred_by_id",
        "account_manager_id",
    ),
    "policies": (
        "customer_id",
        "product_code",
        "product_type",
        "start_date",
        "end_date",
        "term_years",
        "payment_mode",
        "annual_premium",
        "status",
    ),
    "claims": (
        "policy_id",
        "customer_id",
        "loss_date",
        "report_date",
        "status",
        "claimed_amount",
        "reserve_amount",
        "paid_amount",
        "fraud_suspected",
    ),
}
_ENTITY = {"customers": "customer", "policies": "policy", "claims": "claim"}
# The file column each stored column comes from, where the names differ: a re-import changes
# only what its file's columns speak for, and the summary counts changes by file column.
_SOURCE = {
    "customers": {
        "birth_date": "id_number",
        "gender": "id_number",
        "referred_by_id": "referred_by",
        "account_manager_id": "account_manager",
    },
    "policies": {"customer_id": "customer_ref"},
    "claims": {"policy_id": "policy_no", "customer_id": "policy_no"},
}


def _kept(kind_name: str, present: frozenset[str] | None) -> tuple[str, ...]:
    """The stored columns a file with the columns ``present`` (None: all of them) may change."""
    columns = _COLUMNS[kind_name]
    if present is None:
        return columns
    return tuple(c for c in columns if _SOURCE[kind_name].get(c, c) in present)


def _audit_view(kind_name: str, row: dict) -> dict:
    """What the trail keeps of a row: personal data masked (the trail is read by many)."""
    from crm.validators import mask_id_number, mask_phone

    view = {k: row.get(k) for k in _COLUMNS[kind_name]}
    if kind_name == "customers":
        view["id_number"] = mask_id_number(view["id_number"]) if view["id_number"] else None
        view["phone"] = mask_phone(view["phone"]) if view["phone"] else None
    return view


_LATER = object()  # a referrer further down the file: linked once its row is in


class _Resolver:
    """Turns parsed values into stored columns, resolving keys to ids a chunk at a time."""

    def __init__(self, session: Session, kind_name: str):
        self.session, self.kind = session, kind_name
        self.managers = dict(session.execute(select(User.email, User.id)).all())
        self.chunk_later: dict[str, str] = {}  # customer_ref → referrer's ref, this chunk
        self.deferred: list[tuple[str, str]] = []  # the same, for referrers in a later chunk

    def rows(self, chunk: list[dict]) -> list[dict]:
        if self.kind == "customers":
            return self._customer_rows(chunk)
        if self.kind == "policies":
            owners = _existing(self.session, "customers", list({v["customer_ref"] for v in chunk}), Customer.id)
            return [
                {**{k: v[k] for k in v if k != "customer_ref"}, "customer_id": owners[v["customer_ref"]].id}
                for v in chunk
            ]
        policies = _existing(
            self.session, "policies", list({v["policy_no"] for v in chunk}), Policy.id, Policy.customer_id
        )
        return [
            {
                **{k: v[k] for k in v if k != "policy_no"},
                "policy_id": policies[v["policy_no"]].id,
                "customer_id": policies[v["policy_no"]].customer_id,
            }
            for v in chunk
        ]

    def _customer_rows(self, chunk: list[dict]) -> list[dict]:
        refs = _existing(
            self.session, "customers", list({v["referred_by"] for v in chunk if v["referred_by"]}), Customer.id
        )
        self.chunk_later = {}
        out = []
        for v in chunk:
            referrer_id = None
            if v["referred_by"]:
                found = refs.get(v["referred_by"])
                referrer_id = found.id if found else _LATER
                if found is None:
                    self.chunk_later[v["customer_ref"]] = v["referred_by"]
            out.append(
                {
                    **{
                        k: v[k]
                        for k in (
                            "customer_ref",
                            "name",
                            "id_number",
                            "birth_date",
                            "gender",
                            "phone",
                            "city",
                            "source",
                        )
                    },
                    "referred_by_id": referrer_id,
                    "account_manager_id": self.managers.get(v["account_manager"]),
                }
            )
        return out

    def link_within_chunk(self, rows: list[dict], new_ids: dict[str, int]) -> list[dict]:
        """Referrers that arrived in this chunk: fill them in; the rest wait for finish().

        Returns the parameters for updating the rows just inserted without their referrer.
        """
        fixes = []
        for row in rows:
            if row.get("referred_by_id") is not _LATER:
                continue
            key = row["customer_ref"]
            referrer = new_ids.get(self.chunk_later[key])
            if referrer is None:
                self.deferred.append((key, self.chunk_later[key]))
            elif key in new_ids:
                fixes.append({"cid": new_ids[key], "rid": referrer})
            row["referred_by_id"] = referrer
        return fixes

    def finish(self, actor: audit.Actor, summary: ImportSummary | None = None) -> None:
        """Referrers named before their own row, in an earlier chunk: linked once all rows are in."""
        pending = self.deferred
        for i in range(0, len(pending), 900):
            part = pending[i : i + 900]
            ids = _existing(
                self.session,
                "customers",
                list({r for _, r in part} | {k for k, _ in part}),
                Customer.id,
                Customer.referred_by_id,
            )
            moves = [(ids[key], ids[ref].id) for key, ref in part if ids[key].referred_by_id != ids[ref].id]
            if not moves:
                continue
            _set_referrers(self.session, [{"cid": row.id, "rid": rid} for row, rid in moves])
            if summary is not None:
                summary.fields["referred_by"] += len(moves)
            audit.record(
                self.session,
                actor,
                [
                    audit.Change(
                        "customer.import_update",
                        "customer",
                        row.id,
                        {"referred_by_id": row.referred_by_id},
                        {"referred_by_id": rid},
                    )
                    for row, rid in moves
                ],
            )


def _set_referrers(session: Session, params: list[dict]) -> None:
    table = Customer.__table__
    session.connection().execute(
        update(table).where(table.c.id == bindparam("cid")).values(referred_by_id=bindparam("rid")), params
    )
    record_digests.write(session, "customers", (p["cid"] for p in params))


def _insert_new(
    session: Session, table, key_col: str, rows: list[dict], batch_id: int, now: dt.datetime
) -> dict[str, int]:
    """Insert ``rows`` (new records of an import batch, each with the same columns) and return
    each one's id by its key, in the rows' order."""
    inserted = insert_staged(
        session,
        table,
        {name: [row[name] for row in rows] for name in rows[0]},
        {"import_batch_id": batch_id, "created_at": now, "updated_at": now},
        (table.c[key_col], table.c.id),
    )
    return dict(inserted)


def _write_chunk(
    session: Session,
    kind_name: str,
    resolver: _Resolver,
    chunk: list[dict],
    batch_id: int,
    actor: audit.Actor,
    summary: ImportSummary,
    audit_on: bool,
    present: frozenset[str] | None = None,
) -> None:
    """Insert the chunk's new rows and update its changed ones, audited.

    An existing row changes only in the stored columns that the file's columns (``present``;
    None: every column) speak for: a column left out of the file leaves its values alone.
    """
    model, key_col = _MODELS[kind_name]
    table = model.__table__
    conn = session.connection()  # Core statements: the ORM's per-row bookkeeping is not needed here
    rows = resolver.rows(chunk)
    columns = _COLUMNS[kind_name]
    existing = _existing(
        session, kind_name, [r[key_col] for r in rows], model.id, *(getattr(model, c) for c in columns)
    )
    now = utcnow()
    new = [r for r in rows if r[key_col] not in existing]
    new_ids: dict[str, int] = {}
    if new:
        params = [{**r, "referred_by_id": None} if r.get("referred_by_id") is _LATER else r for r in new]
        new_ids = _insert_new(session, table, key_col, params, batch_id, now)
        summary.created += len(new)
        summary.created_ids.extend(new_ids.values())
    if kind_name == "customers":
        fixes = resolver.link_within_chunk(rows, new_ids)
        if fixes:
            _set_referrers(session, fixes)
    changes: list[audit.Change] = []
    if audit_on and new:
        # One event per chunk lists every record it created (id, key and values): the same
        # facts as an event per row, at a fraction of the cost on a million-row import.
        changes.append(
            audit.Change(
                f"{_ENTITY[kind_name]}.import_create",
                "import_batch",
                batch_id,
                None,
                {
                    "records": [
                        {"id": new_ids[r[key_col]], key_col: r[key_col], **_audit_view(kind_name, r)} for r in new
                    ]
                },
            )
        )
    kept = _kept(kind_name, present)
    source = _SOURCE[kind_name]
    updates = []
    for r in rows:
        old = existing.get(r[key_col])
        if old is None:
            continue
        before = dict(zip(columns, old[2:]))
        after = before | {c: r[c] for c in kept}
        if "referred_by_id" in kept and after["referred_by_id"] is None and r[key_col] in resolver.chunk_later:
            after["referred_by_id"] = before["referred_by_id"]  # linked by finish() if it differs
        if after == before:
            summary.unchanged += 1
            continue
        updates.append({"b_id": old.id, **{f"b_{c}": after[c] for c in kept}})
        summary.updated_ids.append(old.id)
        for name in {source.get(c, c) for c in kept if after[c] != before[c]}:
            summary.fields[name] += 1
        changes.append(
            audit.Change(
                f"{_ENTITY[kind_name]}.import_update",
                _ENTITY[kind_name],
                old.id,
                _audit_view(kind_name, before),
                _audit_view(kind_name, after),
            )
        )
    if updates:
        conn.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in kept} | {"updated_at": now, "import_batch_id": batch_id}),
            updates,
        )
        summary.updated += len(updates)
    record_digests.write(session, table.name, [*new_ids.values(), *(u["b_id"] for u in updates)])
    if changes:
        audit.record(session, actor, changes)
