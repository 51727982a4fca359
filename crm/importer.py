"""Streaming, all-or-nothing CSV import (`crm import` and the admin upload page).

Pass 1 reads the file once, validating every row and collecting every problem, and checks
the references against the file and the database in chunks. Only a clean file goes on to
pass 2, which reads it again and writes it in chunks inside ONE transaction: a crash, a kill
or an error leaves the database exactly as it was. Memory is bounded by the chunk size plus
one small entry per key in the file (to catch duplicates), not by the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from crm import audit, events
from crm import initial_load as initial
from crm.clock import business_today
from crm.db import Database, utcnow
from crm.import_rows import KINDS, Kind, claim_dates_fit
from crm.import_write import _existing, _Resolver, _write_chunk
from crm.labels import kind_label
from crm.models import ImportBatch, Policy, User

CHUNK = 2000
MAX_REPORTED = 10_000  # problems listed in full; past that we say how many more

log = logging.getLogger(__name__)

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
    fields: Counter[str] = field(default_factory=Counter)  # file column → rows whose value it changed

    def changes(self) -> str:
        """How many rows changed which fields, e.g. 'updated 12 rows: account_manager 3, city 9'."""
        if not self.updated:
            return _("no stored row changed")
        return ngettext(
            "updated %(num)s row: %(fields)s",
            "updated %(num)s rows: %(fields)s",
            self.updated,
            fields=", ".join(f"{name} {n}" for name, n in sorted(self.fields.items())),
        )


@dataclass
class ImportFailed(Exception):
    """The file was refused; nothing was imported. ``problems`` are 'row N, column C: …' lines."""

    problems: list[str] = field(default_factory=list)
    more: int = 0

    def __str__(self) -> str:
        tail = "\n" + _("… and %(n)s more problems", n=self.more) if self.more else ""
        return "\n".join(self.problems) + tail


def _line(row, column: str, message: str) -> str:
    """One problem in the contract's form, 'row N, column C: message' (N counts the header as row 1)."""
    return _("row %(row)s, column %(column)s: %(message)s", row=row, column=column, message=message)


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


ENCODINGS = ("utf-8", "gb18030")  # GB18030 also reads GBK: what Excel saves as CSV on a Chinese Windows


def _rows(
    path: Path,
    kind: Kind,
    progress: Progress | None,
    phase: str,
    digest=None,
    header: list[str] | None = None,
    encoding: str = "utf-8",
) -> Iterator[tuple[int, dict]]:
    """The file's data rows with their row numbers (the header is row 1); the header's column
    names are appended to ``header`` when one is given."""
    total = path.stat().st_size

    def report(done: int) -> None:
        if progress:
            progress(done, total, phase)

    if encoding != "utf-8" and _is_utf8(path):
        raise ImportFailed([_line(1, "-", _("the file is UTF-8 text, not GB18030 (GBK): choose the encoding UTF-8"))])
    with open(path, "rb") as raw:
        stream = io.BufferedReader(_Counting(raw, report, digest), buffer_size=1 << 20)
        text = io.TextIOWrapper(stream, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="")
        number = 1
        try:
            reader = csv.DictReader(text)
            _check_header(reader.fieldnames or [], kind)
            if header is not None:
                header.extend(reader.fieldnames)
            for number, row in enumerate(reader, start=2):
                if None in row:
                    raise ImportFailed([_line(number, "-", _("more values than the header has columns"))])
                yield number, row
        except UnicodeDecodeError:
            raise ImportFailed([_line(number + 1, "-", _not_decoded(path, encoding))]) from None
        except csv.Error as exc:
            raise ImportFailed([_line(number + 1, "-", _("malformed CSV (%(error)s)", error=exc))]) from None


def _is_utf8(path: Path) -> bool:
    """Whether the file begins as UTF-8 text beyond ASCII (read as GB18030 it would turn into
    other Chinese characters without any error)."""
    with open(path, "rb") as f:
        sample = f.read(1 << 16)
    if sample.startswith(b"\xef\xbb\xbf"):
        return True
    if sample.isascii():
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data"
    return True


def _not_decoded(path: Path, encoding: str) -> str:
    """Why the file could not be read, and what to do: a GBK file sent as UTF-8 is the usual case."""
    if encoding != "utf-8":
        return _("the file is not GB18030 (GBK) text: choose the encoding UTF-8")
    with open(path, "rb") as f:
        sample = f.read(1 << 16)
    try:
        sample.decode("gb18030")  # a sample cut inside a character fails here: then we say less
    except UnicodeDecodeError:
        return _("the file is not UTF-8 text")
    return _(
        'the file is not UTF-8 text: it looks like GBK, as Excel saves "CSV (逗号分隔)" on a Chinese '
        "Windows. Import it with the encoding GB18030 (GBK), or in Excel choose Save As → "
        '"CSV UTF-8 (逗号分隔)" and import that file'
    )


def _looks_like(header: list[str], kind: Kind) -> Kind | None:
    """The other kind whose columns the header has, when it is not this kind's header."""
    names = set(header)
    ours = len(names & set(kind.columns))
    for other in KINDS.values():
        theirs = len(names & set(other.columns))
        if other is not kind and theirs > ours and theirs * 2 >= len(names):
            return other
    return None


def _check_header(header: list[str], kind: Kind) -> None:
    problems = []
    if not header:
        raise ImportFailed([_line(1, "-", _("the file is empty (a header row is required)"))])
    other = _looks_like(header, kind)
    if other is not None:
        raise ImportFailed(
            [
                _line(
                    1,
                    "-",
                    _(
                        "this looks like a %(other)s file, not a %(kind)s file: choose the kind %(other)s",
                        other=kind_label(other.name),
                        kind=kind_label(kind.name),
                    ),
                )
            ]
        )
    seen = set()
    for name in header:
        if name in seen:
            problems.append(_line(1, name, _("appears twice in the header")))
        seen.add(name)
        if name not in kind.columns:
            problems.append(_line(1, name, _("unknown column (expected %(columns)s)", columns=", ".join(kind.columns))))
    for name in kind.required:
        if name not in seen:
            problems.append(_line(1, name, _("required column is missing")))
    if problems:
        raise ImportFailed(problems)


class _Problems:
    """Every problem found, listed in row order however late it was found (references are
    checked after the last row); within a row, in the order found."""

    def __init__(self):
        self.found: list[tuple[int, str, str]] = []
        self.more = 0

    def add(self, row: int, column: str, message: str) -> None:
        if len(self.found) < MAX_REPORTED:
            self.found.append((row, column, message))
        else:
            self.more += 1

    def raise_if_any(self) -> None:
        if self.found:
            ordered = sorted(self.found, key=lambda problem: problem[0])  # stable: a row's own order kept
            raise ImportFailed([_line(*problem) for problem in ordered], self.more)


def _check_claim_dates(session, rows: list[tuple[int, dict]], today: dt.date, problems) -> None:
    """The claims' dates against their policies' cover and the day (policies looked up per chunk)."""
    policies = _existing(
        session, "policies", sorted({values["policy_no"] for _, values in rows}), Policy.start_date, Policy.end_date
    )
    for number, values in rows:
        policy = policies.get(values["policy_no"])
        if policy is None:
            continue  # named by the reference check
        for column, message in claim_dates_fit(values, policy.start_date, policy.end_date, today):
            problems.add(number, column, message)


def validate(
    database: Database,
    kind_name: str,
    path: Path,
    progress: Progress | None = None,
    digest=None,
    today: dt.date | None = None,
    encoding: str = "utf-8",
) -> ImportSummary:
    """Pass 1: every row, every rule. Raises ImportFailed listing every problem, in row order.

    ``today`` (the business day, by default now in CRM_TIMEZONE): no claim date may be after it.
    ``encoding``: one of ENCODINGS.
    """
    kind = KINDS[kind_name]
    today = today or business_today()
    claim_dates: list[tuple[int, dict]] = []
    problems = _Problems()
    first_row: dict[str, int] = {}  # key → row number; catches duplicates within the file
    references: dict[str, list[int]] = {}  # referenced key → [first row naming it, how many rows]
    managers: dict[str, int] = {}
    summary = ImportSummary(kind_name)
    with database.session() as session:
        emails = set(session.scalars(select(User.email).where(User.role.in_(("account_manager", "admin")))))
        pending: list[str] = []
        for number, row in _rows(path, kind, progress, "validating", digest, encoding=encoding):
            summary.rows += 1
            values, row_problems = kind.parse(row)
            for column, message in row_problems:
                problems.add(number, column, message)
            key = values[kind.key]
            if key is not None:
                if key in first_row:
                    problems.add(
                        number, kind.key, _("%(key)s appears again (first on row %(row)s)", key=key, row=first_row[key])
                    )
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
            if kind_name == "claims" and values["policy_no"]:
                claim_dates.append((number, {c: values[c] for c in ("policy_no", "loss_date", "report_date")}))
                if len(claim_dates) >= CHUNK:
                    _check_claim_dates(session, claim_dates, today, problems)
                    claim_dates = []
            manager = values.get("account_manager")
            if manager and manager not in emails and manager not in managers:
                managers[manager] = number
            if len(pending) >= CHUNK:
                summary.updated += len(_existing(session, kind_name, pending))
                pending = []
        summary.updated += len(_existing(session, kind_name, pending)) if pending else 0
        if claim_dates:
            _check_claim_dates(session, claim_dates, today, problems)
        for email, number in managers.items():
            problems.add(number, "account_manager", _("no account manager with e-mail %(email)s", email=email))
        _check_references(session, kind, references, first_row, problems)
    summary.created = len(first_row) - summary.updated
    problems.raise_if_any()
    return summary


def _check_references(session, kind: Kind, references: dict[str, list[int]], in_file: dict[str, int], problems) -> None:
    outside = [ref for ref in references if kind.reference_kind != kind.name or ref not in in_file]
    found = set(_existing(session, kind.reference_kind, outside))
    for ref in outside:
        if ref not in found:
            number, count = references[ref]
            if kind.reference_kind == kind.name:
                message = _("no customer %(ref)s (neither in the database nor in this file)", ref=ref)
            elif kind.reference_kind == "customers":
                message = _("no customer %(ref)s (not in the database)", ref=ref)
            else:
                message = _("no policy %(ref)s (not in the database)", ref=ref)
            if count > 1:
                message += _("; %(n)s later rows name it too", n=count - 1)
            problems.add(number, kind.reference, message)


def import_csv(
    database: Database,
    kind_name: str,
    path: str | Path,
    actor: audit.Actor,
    *,
    dry_run: bool = False,
    initial_load: bool = False,
    user_id: int | None = None,
    progress: Progress | None = None,
    audit_on: bool = True,
    today: dt.date | None = None,
    encoding: str = "utf-8",
) -> ImportSummary:
    """Validate ``path`` and, unless ``dry_run``, import it in one transaction.

    Raises ImportFailed (nothing imported) listing every problem as 'row N, column C: …', also
    when the database refuses a write: then the error's type and the keys of the rows being
    written are logged, never their values (they hold ID numbers and phones).
    ``audit_on=False`` exists only for the benchmark that measures what the trail costs.
    ``encoding``: "utf-8" (a BOM is accepted) or "gb18030" (which reads GBK too).
    """
    if encoding not in ENCODINGS:
        raise ImportFailed([_line("-", "-", _("unknown encoding %(encoding)r (utf-8 or gb18030)", encoding=encoding))])
    if kind_name not in KINDS:
        raise ImportFailed(
            [_line("-", "-", _("unknown kind %(kind)r (customers, policies or claims)", kind=kind_name))]
        )
    path = Path(path)
    digest = hashlib.sha256()
    checked = validate(database, kind_name, path, progress, digest, today, encoding)
    if dry_run:
        checked.dry_run = True
        return checked
    summary = ImportSummary(kind_name, rows=checked.rows)
    at = _Position()
    try:
        _write(
            database,
            KINDS[kind_name],
            path,
            digest.hexdigest(),
            actor,
            summary,
            at,
            initial_load,
            user_id,
            progress,
            audit_on,
            encoding,
        )
    except StatementError as exc:
        raise _refused(kind_name, at, exc) from None
    except initial.InitialLoadClosed:
        try:
            with database.transaction() as session:
                asked = initial.request(session, actor, kind_name, digest.hexdigest(), path.name)
        except initial.ApprovalError:  # not an admin's account asking (the command line without --user)
            message = _(
                "the initial load is closed: a second admin must approve this file as an initial load, "
                "asked for by an admin (crm import … --user EMAIL); nothing was imported"
            )
            raise ImportFailed([_line("-", "-", message)]) from None
        raise ImportFailed(
            [
                _line(
                    "-",
                    "-",
                    _(
                        "the initial load is closed: a second admin must approve this file as an initial load "
                        "(request %(id)s, on the import page) before it can run; nothing was imported",
                        id=asked.id,
                    ),
                )
            ]
        ) from None
    return summary


@dataclass
class _Position:
    """Where pass 2 is: the row numbers and keys of the chunk being written (for messages)."""

    rows: tuple[int, int] | None = None
    keys: tuple[str, str] | None = None


def _write(
    database: Database,
    kind: Kind,
    path: Path,
    sha256: str,
    actor: audit.Actor,
    summary: ImportSummary,
    at: _Position,
    initial_load: bool,
    user_id: int | None,
    progress: Progress | None,
    audit_on: bool,
    encoding: str,
) -> None:
    """Pass 2: write the checked file in chunks, in one transaction."""
    with database.transaction() as session:
        if initial_load:
            initial.admit(session, actor, kind.name, sha256)
        batch = ImportBatch(
            kind=kind.name, filename=path.name[:255], sha256=sha256, initial_load=initial_load, user_id=user_id
        )
        session.add(batch)
        session.flush()
        resolver = _Resolver(session, kind.name)
        header: list[str] = []
        chunk: list[dict] = []
        numbers: list[int] = []

        def write() -> None:
            at.rows, at.keys = (numbers[0], numbers[-1]), (chunk[0][kind.key], chunk[-1][kind.key])
            _write_chunk(
                session, kind.name, resolver, chunk, batch.id, actor, summary, audit_on, present=frozenset(header)
            )
            at.rows = at.keys = None

        for number, row in _rows(path, kind, progress, "importing", header=header, encoding=encoding):
            chunk.append(kind.parse(row)[0])
            numbers.append(number)
            if len(chunk) >= CHUNK:
                write()
                chunk, numbers = [], []
        if chunk:
            write()
        resolver.finish(actor, summary)
        batch.rows, batch.created, batch.updated = summary.rows, summary.created, summary.updated
        batch.finished_at = utcnow()
        audit.record(
            session,
            actor,
            audit.Change(
                "import.completed",
                "import_batch",
                batch.id,
                None,
                {
                    "kind": kind.name,
                    "file": batch.filename,
                    "sha256": batch.sha256,
                    "rows": summary.rows,
                    "created": summary.created,
                    "updated": summary.updated,
                    "initial_load": initial_load,
                },
            ),
        )
        summary.batch_id = batch.id
        # Review queues and other features react in this same transaction.
        events.publish(
            session,
            events.RecordsImported(
                kind.name, tuple(summary.created_ids), tuple(summary.updated_ids), batch.id, initial_load, actor
            ),
        )


def _refused(kind_name: str, at: _Position, exc: StatementError) -> ImportFailed:
    """The database refused the import: log what and where, never the values, and say so.

    SQLAlchemy's message lists the statement's parameters (whole rows), so neither it nor its
    traceback may reach a log line or the user.
    """
    error = type(getattr(exc, "orig", None) or exc).__name__
    key = KINDS[kind_name].key
    if at.rows is not None:
        log.error(
            "import of %s refused by the database (%s) in rows %s-%s, %s %s to %s",
            kind_name,
            error,
            at.rows[0],
            at.rows[1],
            key,
            at.keys[0],
            at.keys[1],
        )
        message = _(
            "the database refused rows %(first)s to %(last)s (%(key)s %(first_key)s to %(last_key)s): %(error)s",
            first=at.rows[0],
            last=at.rows[1],
            key=key,
            first_key=at.keys[0],
            last_key=at.keys[1],
            error=error,
        )
    else:
        log.error("import of %s refused by the database (%s) after its rows were written", kind_name, error)
        message = _("the database refused the import: %(error)s", error=error)
    return ImportFailed([_line("-", "-", message)])
