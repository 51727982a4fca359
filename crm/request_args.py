"""Whole numbers from a URL: the ``<int:…>`` converter of every route and the one reader of
integer query parameters.

A number larger than the database column holds fails when it is bound as a parameter — a
500: SQLite's INTEGER stops at 2**63 - 1, and the ids are INTEGER columns on PostgreSQL
(SQLAlchemy binds them as ``%(id)s::INTEGER``), which stop at 2**31 - 1. Bounding them where
the URL is parsed answers such a request as what it is: a path that names nothing (404) or a
query that makes no sense (400).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import abort, request
from werkzeug.routing import IntegerConverter

from crm.validators import parse_int

ID_MAX = 2**31 - 1  # PostgreSQL's INTEGER, the type of every id column


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` matching only what an id column can hold: a larger number matches no route,
    so it is a 404 like any id that does not exist. Registered as ``int`` by the app; a route
    over a BIGINT column would say ``<int(max=…):…>``."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def int_arg(
    name: str, default: int | None = None, *, low: int = 0, high: int = ID_MAX, values: Mapping[str, str] | None = None
) -> int | None:
    """The query parameter ``name`` (or the field of ``values``, e.g. ``request.form``) as a
    whole number in [low, high]; ``default`` when it is absent or empty. Anything else — not a
    number, or out of range — aborts with 400."""
    text = (request.args if values is None else values).get(name, "")
    if not text:
        return default
    try:
        return parse_int(text, low, high)
    except ValueError:
        abort(400)


def cursor_arg(name: str, parts: int = 2) -> tuple[int, ...] | None:
    """A keyset cursor of ``parts`` whole numbers joined by dots (``priority.id``); None when
    absent or empty. Anything else aborts with 400, as ``int_arg`` does."""
    text = request.args.get(name, "")
    if not text:
        return None
    pieces = text.split(".")
    if len(pieces) != parts:
        abort(400)
    try:
        return tuple(parse_int(p, -ID_MAX, ID_MAX) for p in pieces)
    except ValueError:
        abort(400)
