"""The one CSV writer of every file the product produces: the data export, `crm tiers export`,
the reports, the partner settlement (CONTRACT.md, "Exports with fixed columns").

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written
with a leading ``'``: a spreadsheet would otherwise run it as a formula (``=cmd|' /C calc'!A0``
in an imported city). Numbers are not text: ``int``, ``Decimal`` and ``float`` are written as
they are, so a negative amount stays ``-12.50``. Money is passed as a ``Decimal`` with 2
decimals (``two_decimals()`` makes one from whatever the database or pandas handed back).

No Flask here, except inside ``csv_response`` (the views' one way of answering with a CSV), so
that services may write CSV too.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # downloads carry one so that spreadsheet programs read the Chinese as UTF-8


def two_decimals(value) -> Decimal | None:
    """``value`` (Decimal, float, int or numeric text) as a Decimal with 2 decimals; None stays None.

    A float is rounded as ``f"{x:.2f}"`` does (its binary value), anything else from its decimal
    text. Raises decimal.InvalidOperation for text that is not a number.
    """
    if value is None:
        return None
    if isinstance(value, float):
        return Decimal(f"{value:.2f}")
    return Decimal(f"{Decimal(str(value)):.2f}")


def four_decimals(value) -> Decimal | None:
    """A ratio (a loss ratio) as a Decimal with 4 decimals, as exports write it; None stays None
    and so does an infinite or undefined ratio (no earned premium: an empty cell)."""
    if value is None or (isinstance(value, float) and (value != value or value in (float("inf"), float("-inf")))):
        return None
    return Decimal(f"{Decimal(str(value)):.4f}")


def cell(value) -> str:
    """The CSV text of one value: numbers as numbers, text made safe for spreadsheets."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class Writer:
    """``csv.writer`` with every value passed through ``cell``."""

    def __init__(self, out: TextIO, **fmtparams):
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable) -> None:
        self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: TextIO, **fmtparams) -> Writer:
    """A writer of safe CSV rows onto ``out`` (opened with ``newline=""``)."""
    return Writer(out, **fmtparams)


def to_text(header: Iterable, rows: Iterable[Iterable]) -> str:
    """A whole CSV file as text (for downloads small enough to build in memory)."""
    out = io.StringIO()
    w = writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def csv_response(text: str, filename: str):
    """The HTTP answer carrying a CSV download: UTF-8 with a BOM, as an attachment, and never
    kept by a browser or proxy cache (the files hold business and personal data)."""
    from flask import Response

    return Response(
        BOM + text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
