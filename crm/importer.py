"""Streaming, all-or-nothing CSV import (`crm import` and the admin upload page).

Pass 1 reads the file once, validating every row and collecting every problem, and checks
the references against the file and the database in chunks. Only a clean file goes on to
pass 2, which reads it again and writes it in chunks inside ONE transaction: a crash, a kill
or an error leaves the database exactly as it was. Memory is bounded by the chunk size plus
one small entry per key in the file (to catch duplicates), not by the file.
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from crm import audit, events
from crm.db import Database, utcnow
from crm.review import subscriptions as _review  # noqa: F401 - the features an import reaches register on import
from crm.import_rows import KINDS, Kind
from crm.import_write import _Resolver, _existing, _write_chunk
from crm.models import ImportBatch, User

CHUNK = 2000
MAX_REPORTED = 10_000  # problems listed in full; past that we say how many more

Progress = Callable[[int, int, str], None]  # (bytes done, bytes total, phase)


@dataclass
class ImportSummary:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    batch_id: int | None = None
    created_ids: list[int] = field(default_factory=list, repr=False)
    updated_ids: list[int] = field(default_factory=list, repr=False)


@dataclass
class ImportFailed(Exception):
    """The file was refused; nothing was imported. ``problems`` are 'row N, column C: …' lines."""

    problems: list[str] = field(default_factory=list)
    more: int = 0

    def __str__(self) -> str:
        tail = f"\n… and {self.more} more problems" if self.more else ""
        return "\n".join(self.problems) + tail


class _Counting(io.RawIOBase):
    """Reads a binary file, hashing what passes and reporting how far it got (progress bar)."""

    def __init__(self, raw, report: Callable[[int], None], digest=None):
        self.raw, self.report, self.digest, self.done = raw, report, digest, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = self.raw.readinto(buf) or 0
        if self.digest is not None:
            self.digest.update(memoryview(buf)[:n])
        self.done += n
        self.report(self.done)
        return n


def _rows(path: Path, kind: Kind, progress: Progress | None, phase: str, digest=None) -> Iterator[tuple[int, dict]]:
    """The file's data rows with their row numbers (the header is row 1)."""
    total = path.stat().st_size

    def report(done: int) -> None:
        if progress:
            progress(done, total, phase)

    with open(path, "rb") as raw:
        stream = io.BufferedReader(_Counting(raw, report, digest), buffer_size=1 << 20)
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        number = 1
        try:
            reader = csv.DictReader(text)
            _check_header(reader.fieldnames or [], kind)
            for number, row in enumerate(reader, start=2):
                if None in row:
                    raise ImportFailed([f"row {number}, column -: more values than the header has columns"])
                yield number, row
        except UnicodeDecodeError:
            raise ImportFailed([f"row {number + 1}, column -: the file is not UTF-8 text"]) from None
        except csv.Error as exc:
            raise ImportFailed([f"row {number + 1}, column -: malformed CSV ({exc})"]) from None


def _check_header(header: list[str], kind: Kind) -> None:
    problems = []
    if not header:
        raise ImportFailed(["row 1, column -: the file is empty (a header row is required)"])
    seen = set()
    for name in header:
        if name in seen:
            problems.append(f"row 1, column {name}: appears twice in the header")
        seen.add(name)
        if name not in kind.columns:
            problems.append(f"row 1, column {name}: unknown column (expected {', '.join(kind.columns)})")
    for name in kind.required:
        if name not in seen:
            problems.append(f"row 1, column {name}: required column is missing")
    if problems:
        raise ImportFailed(problems)


class _Problems:
    def __init__(self):
        self.lines: list[str] = []
        self.more = 0

    def add(self, row: int, column: str, message: str) -> None:
        if len(self.lines) < MAX_REPORTED:
            self.lines.append(f"row {row}, column {column}: {message}")
        else:
            self.more += 1

    def raise_if_any(self) -> None:
        if self.lines:
            raise ImportFailed(self.lines, self.more)


def validate(database: Database, kind_name: str, path: Path, progress: Progress | None = None,
             digest=None) -> ImportSummary:
    """Pass 1: every row, every rule. Raises ImportFailed listing every problem."""
    kind = KINDS[kind_name]
    problems = _Problems()
    first_row: dict[str, int] = {}  # key → row number; catches duplicates within the file
    references: dict[str, list[int]] = {}  # referenced key → [first row naming it, how many rows]
    managers: dict[str, int] = {}
    summary = ImportSummary(kind_name)
    with database.session() as session:
        emails = set(session.scalars(select(User.email).where(User.role.in_(("account_manager", "admin")))))
        pending: list[str] = []
        for number, row in _rows(path, kind, progress, "validating", digest):
            summary.rows += 1
            values, row_problems = kind.parse(row)
            for column, message in row_problems:
                problems.add(number, column, message)
            key = values[kind.key]
            if key is not None:
                if key in first_row:
                    problems.add(number, kind.key, f"{key} appears again (first on row {first_row[key]})")
                else:
                    first_row[key] = number
                    pending.append(key)
            ref = values.get(kind.reference)
            if ref is not None:
                seen = references.get(ref)
                if seen is None:
                    references[ref] = [number, 1]
                else:
                    seen[1] += 1
            manager = values.get("account_manager")
            if manager and manager not in emails and manager not in managers:
                managers[manager] = number
            if len(pending) >= CHUNK:
                summary.updated += len(_existing(session, kind_name, pending))
                pending = []
        summary.updated += len(_existing(session, kind_name, pending)) if pending else 0
        for email, number in managers.items():
            problems.add(number, "account_manager", f"no account manager with e-mail {email}")
        _check_references(session, kind, references, first_row, problems)
    summary.created = len(first_row) - summary.updated
    problems.raise_if_any()
    return summary


def _check_references(session, kind: Kind, references: dict[str, list[int]], in_file: dict[str, int],
                      problems) -> None:
    outside = [ref for ref in references if kind.reference_kind != kind.name or ref not in in_file]
    found = set()
    for i in range(0, len(outside), 900):
        found |= set(_existing(session, kind.reference_kind, outside[i:i + 900]))
    label = {"customers": "customer", "policies": "policy"}[kind.reference_kind]
    where = "neither in the database nor in this file" if kind.reference_kind == kind.name else "not in the database"
    for ref in outside:
        if ref not in found:
            number, count = references[ref]
            others = f"; {count - 1} later rows name it too" if count > 1 else ""
            problems.add(number, kind.reference, f"no {label} {ref} ({where}){others}")


def import_csv(database: Database, kind_name: str, path: str | Path, actor: audit.Actor, *,
               dry_run: bool = False, initial_load: bool = False, user_id: int | None = None,
               progress: Progress | None = None, audit_on: bool = True) -> ImportSummary:
    """Validate ``path`` and, unless ``dry_run``, import it in one transaction.

    Raises ImportFailed (nothing imported) listing every problem as 'row N, column C: …'.
    ``audit_on=False`` exists only for the benchmark that measures what the trail costs.
    """
    if kind_name not in KINDS:
        raise ImportFailed([f"row -, column -: unknown kind {kind_name!r} (customers, policies or claims)"])
    path = Path(path)
    digest = hashlib.sha256()
    checked = validate(database, kind_name, path, progress, digest)
    if dry_run:
        checked.dry_run = True
        return checked
    kind = KINDS[kind_name]
    summary = ImportSummary(kind_name, rows=checked.rows)
    with database.transaction() as session:
        batch = ImportBatch(kind=kind_name, filename=path.name[:255], sha256=digest.hexdigest(),
                            initial_load=initial_load, user_id=user_id)
        session.add(batch)
        session.flush()
        resolver = _Resolver(session, kind_name)
        chunk: list[dict] = []
        for _number, row in _rows(path, kind, progress, "importing"):
            chunk.append(kind.parse(row)[0])
            if len(chunk) >= CHUNK:
                _write_chunk(session, kind_name, resolver, chunk, batch.id, actor, summary, audit_on)
                chunk = []
        if chunk:
            _write_chunk(session, kind_name, resolver, chunk, batch.id, actor, summary, audit_on)
        resolver.finish(actor)
        batch.rows, batch.created, batch.updated = summary.rows, summary.created, summary.updated
        batch.finished_at = utcnow()
        audit.record(session, actor, audit.Change(
            "import.completed", "import_batch", batch.id, None,
            {"kind": kind_name, "file": batch.filename, "sha256": batch.sha256, "rows": summary.rows,
             "created": summary.created, "updated": summary.updated, "initial_load": initial_load}))
        summary.batch_id = batch.id
        # Review queues and other features react in this same transaction.
        events.publish(session, events.RecordsImported(kind_name, tuple(summary.created_ids),
                                                       tuple(summary.updated_ids), batch.id, initial_load, actor))
    return summary
