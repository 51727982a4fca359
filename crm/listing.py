"""What every list page shares: sorting by a whitelisted column (server-side, with a stable
secondary key), the total count, offset pages, searching customers by phone tail or
reference, and the CSV export of what the page shows.

A sort is written ``column`` (ascending) or ``-column`` (descending) in the ``sort`` field
of the list's form or URL. A column that is not on the list's whitelist is refused
(``BadSort``, a 400 at the view): a sort key never reaches SQL unless it names a column the
list chose to offer. Every order ends with the row's id, so equal values keep one order from
page to page and in the export.

No Flask here: the views read the request and answer; these take plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from crm.models import User

EXPORT_LIMIT = 50_000  # rows in one CSV export: a whole portfolio, not the whole company
PAGE_SIZE = 50


class BadSort(ValueError):
    """A sort that names a column the list does not offer."""


@dataclass(frozen=True)
class Sort:
    """The chosen column (None: the list's own order) and its direction."""

    key: str | None = None
    desc: bool = False

    @property
    def value(self) -> str:
        """The text of this sort in a form or URL (``name``, ``-name`` or empty)."""
        return "" if self.key is None else ("-" if self.desc else "") + self.key

    def toggled(self, key: str) -> str:
        """The sort a click on column ``key``'s header asks for: ascending, then descending."""
        return "-" + key if self.key == key and not self.desc else key

    def aria(self, key: str) -> str:
        """The header's ``aria-sort``."""
        if self.key != key:
            return "none"
        return "descending" if self.desc else "ascending"

    def arrow(self, key: str) -> str:
        if self.key != key:
            return "↕"
        return "↓" if self.desc else "↑"


UNSORTED = Sort()  # the list's own order


def parse_sort(text: str | None, allowed: Mapping[str, object]) -> Sort:
    """``text`` as a Sort over the columns ``allowed``. Raises BadSort for any other column."""
    text = (text or "").strip()
    if not text:
        return Sort()
    desc = text.startswith("-")
    key = text[1:] if desc else text
    if key not in allowed:
        raise BadSort(key)
    return Sort(key, desc)


def order_by(sort: Sort, columns: Mapping[str, ColumnElement], default: tuple, tiebreak: ColumnElement) -> tuple:
    """The ORDER BY of a list: the chosen column (empty values last either way), then the
    stable key; or the list's default order when none is chosen."""
    if sort.key is None:
        return default
    column = columns[sort.key]
    first = column.desc().nulls_last() if sort.desc else column.asc().nulls_last()
    return (first, tiebreak.desc() if sort.desc else tiebreak)


def count(session: Session, stmt: Select) -> int:
    """How many rows ``stmt`` (without its order and limits) selects."""
    inner = stmt.order_by(None).limit(None).offset(None)
    return session.scalar(select(func.count()).select_from(inner.subquery())) or 0


def page_of(session: Session, stmt: Select, page: int, size: int = PAGE_SIZE) -> tuple[list, bool]:
    """One offset page of ``stmt`` (already ordered): (rows, whether a next page exists)."""
    rows = session.execute(stmt.offset(page * size).limit(size + 1)).all()
    return rows[:size], len(rows) > size


def export_rows(session: Session, stmt: Select, row: Callable, limit: int = EXPORT_LIMIT) -> list[list]:
    """Every row of ``stmt`` (ordered as on screen), each turned into its CSV cells by ``row``."""
    return [row(r) for r in session.execute(stmt.limit(limit))]


def person_name(full_name: str | None, email: str | None) -> str:
    """How a user is named on a page: their name, else their e-mail address's local part."""
    if full_name and full_name.strip():
        return full_name.strip()
    return (email or "").split("@", 1)[0]


def names_by_email(session: Session, emails) -> dict[str, str]:
    """How each user among ``emails`` (audit actors, run starters: what an Actor's label holds)
    is named on a page; an address that is no user's (a job, the command line) is left out."""
    wanted = {e for e in emails if e and "@" in e}
    if not wanted:
        return {}
    rows = session.execute(select(User.email, User.full_name).where(User.email.in_(wanted)))
    return {email: person_name(full_name, email) for email, full_name in rows}
