"""Bulk statements: many ids or rows at once, in the caller's session and transaction.

Ids and keys by the thousand bound as ONE parameter (a JSON list on SQLite, an array on
PostgreSQL): id_rows and id_in for statements written as SQL text, any_of for Core ones.
Rows by the hundred thousand sent by the driver's bulk path (bulk_insert: COPY on PostgreSQL,
multi-row INSERTs on SQLite), and inserted with RETURNING from a stage (insert_staged). The
rest of the database layer (engines, sessions, types) is crm.db.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import itertools
import json
import sqlite3
from decimal import Decimal

from sqlalchemy import ColumnElement, String, any_, bindparam, func, select, text, true
from sqlalchemy import column as column_clause
from sqlalchemy import table as table_clause
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# The ids bound as :ids (ids_param) as a table of one column, ``value``: a bulk statement
# takes any number of ids as ONE parameter (SQLite reads a JSON array, PostgreSQL an array),
# where an IN list takes a parameter per id, and SQLite at most 32,766 of them.
_ID_ROWS = {
    "sqlite": "SELECT value FROM json_each(:ids)",
    "postgresql": "SELECT unnest(CAST(:ids AS BIGINT[])) AS value",
}


IDS_PER_STATEMENT = 100_000  # ids bound at a time: a bulk path's memory is bounded by it


def driver_rows(conn, statement, params: dict) -> list[tuple]:
    """Every row of ``statement``, as the driver's tuples: SQLAlchemy's Row objects took a
    third of the time of reading records by the hundred thousand."""
    result = conn.execute(statement, params)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def id_rows(dialect: str) -> str:
    """SQL for the table of the ids bound as :ids (see ids_param), to insert rows from."""
    return _ID_ROWS[dialect]


# The test that ``column`` is one of the ids bound as :ids. Not a join with id_rows on
# PostgreSQL: within a run's transaction its planner still believes a table it has just
# filled empty (its statistics predate the run), and rescanned the ids for each of its rows:
# the balance lookups of a first run at 1M took 135 s. ANY(array) is a test of each row.
_ID_IN = {"sqlite": "{0} IN (SELECT value FROM json_each(:ids))", "postgresql": "{0} = ANY(CAST(:ids AS BIGINT[]))"}


def id_in(dialect: str, column: str) -> str:
    """SQL that ``column`` is one of the ids bound as :ids (see ids_param)."""
    return _ID_IN[dialect].format(column)


def any_of(session: Session, column, values) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (ids or keys), for a statement of ``session``'s
    database, bound as ONE parameter as id_in binds them: an array on PostgreSQL, a JSON list
    on SQLite. For lists of thousands: not ``column.in_(values)``, a placeholder per value,
    which psycopg parses in Python anew for every statement of over 50 parameters."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        # Texts as text[], not as the column's VARCHAR(n)[]: that cast would cut a longer
        # value down to n characters, and it would then match the key it begins with.
        element = String() if isinstance(column.type, String) else column.type
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(element)))
    each = func.json_each(bindparam(None, json.dumps(values))).table_valued("value")
    return column.in_(select(each.c.value))


def typed_text(sql: str, **types):
    """``sql`` as a statement whose named parameters are bound as ``types``: dates, times and
    money stored as the ORM stores them, for the bulk statements written as SQL."""
    return text(sql).bindparams(*(bindparam(name, type_=type_) for name, type_ in types.items()))


def ids_param(dialect: str, ids) -> object:
    """The value to bind as :ids for id_rows and id_in."""
    whole = [int(i) for i in ids]
    return json.dumps(whole) if dialect == "sqlite" else whole


_NULL = "\\N"  # COPY's NULL marker
_ROWS_PER_INSERT = 200  # rows a statement, for SQLite (bulk_insert)


def bulk_insert(session: Session, table, columns: dict[str, list], rendered: str | None = None) -> None:
    """Insert many rows through the driver itself, in the session's transaction.

    For the few paths that write hundreds of thousands of rows (a recalculation's stage):
    PostgreSQL gets COPY (as CSV, made by the csv module's C writer: copy_csv), SQLite a plain
    executemany with the text forms SQLAlchemy's types store (UTC timestamps without zone,
    ISO dates). ``columns`` maps each column's name to its values, all of the same length,
    each column of one type (or None). A column's type is read off its first value, so that a
    column of numbers is passed on untouched. ``rendered``: the same rows already made into
    copy_csv's text (elsewhere: a recalculation's worker process), sent as they are.
    """
    names, values = ", ".join(columns), list(columns.values())
    if not values or not len(values[0]):
        return
    conn = session.connection()
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        rendered = rendered if rendered is not None else copy_csv(columns)
        if rendered is None:  # a text that reads as NULL: row by row
            with driver.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in zip(*values):
                    copy.write_row(row)
            return
        with (
            driver.cursor() as cur,
            cur.copy(f"COPY {table.name} ({names}) FROM STDIN WITH (FORMAT csv, NULL '{_NULL}')") as copy,
        ):
            copy.write(rendered)
        return
    for i, column in enumerate(values):
        first = next((v for v in column if v is not None), None)
        if isinstance(first, dt.date):
            values[i] = [_as_text(v, False) for v in column]
        elif isinstance(first, Decimal):  # money, stored as SQLAlchemy's Numeric stores it on SQLite
            values[i] = [None if v is None else float(v) for v in column]
    # Many rows a statement: the driver's cost is per statement executed as much as per value
    # (a million stage rows: 1.3 s instead of 1.8 s, measured).
    width, n = len(values), len(values[0])
    per = max(1, min(_ROWS_PER_INSERT, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    flat = itertools.chain.from_iterable(zip(*values))
    cur = driver.cursor()

    row = f"({', '.join('?' * width)})"

    def insert(rows: int) -> str:
        # Table and column names come from the model metadata, never from input; values are bound.
        return f"INSERT INTO {table.name} ({names}) VALUES " + ", ".join([row] * rows)  # nosec B608

    if n >= per:
        cur.executemany(insert(per), (tuple(itertools.islice(flat, per * width)) for _ in range(n // per)))
    if n % per:
        cur.execute(insert(n % per), tuple(flat))
    cur.close()


def insert_staged(
    session: Session,
    table,
    columns: dict[str, list],
    shared: dict,
    returning: tuple,
    skip_existing: bool = False,
) -> list:
    """Insert many rows of ``table`` and return ``returning`` of each inserted, in the rows' order.

    ``columns`` are the rows (as bulk_insert takes them), ``shared`` the values every row has
    (bound once). The rows are staged in a TEMP table shaped as ``table`` (bulk_insert: COPY on
    PostgreSQL), then inserted by one INSERT … SELECT; ``skip_existing``: a row a unique
    constraint already holds is left out (ON CONFLICT DO NOTHING). Not SQLAlchemy's
    insertmanyvalues, its way to an INSERT of many rows with RETURNING: it sends pages of a
    VALUES list, a page of a thousand rows some fifteen thousand placeholders, which psycopg
    parses in Python for every page (it keeps the parse only of short statements)."""
    names = list(columns)
    stage = table_clause(f"stage_{table.name}", *(column_clause(name) for name in (*names, "ord")))
    listed = ", ".join(table.c[name].name for name in names)  # the table's own columns (KeyError if not)
    shape = f"CREATE TEMPORARY TABLE {stage.name} AS SELECT {listed}, 0 AS ord FROM {table.name} WHERE 1 = 0"  # nosec B608
    conn = session.connection()
    conn.execute(text(shape))
    bulk_insert(session, stage, {**columns, "ord": list(range(len(columns[names[0]])))})
    binds = {name: bindparam(f"shared_{name}", type_=table.c[name].type) for name in shared}
    # WHERE: SQLite reads an ON after a bare SELECT … FROM as a join's.
    rows = select(*(stage.c[name] for name in names), *binds.values()).where(true()).order_by(stage.c.ord)
    insert = (
        (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table).from_select([*names, *binds], rows)
    )
    if skip_existing:
        insert = insert.on_conflict_do_nothing()
    inserted = conn.execute(insert.returning(*returning), {f"shared_{k}": v for k, v in shared.items()}).all()
    conn.execute(text(f"DROP TABLE {stage.name}"))  # nosec B608 - a name from the model
    return inserted


def copy_csv(columns: dict[str, list]) -> str | None:
    """The rows of ``columns`` (as bulk_insert takes them) as the CSV that bulk_insert sends
    to PostgreSQL's COPY, or None if a text among them reads as COPY's NULL marker."""
    values = list(columns.values())
    for i, column in enumerate(values):
        first = next((v for v in column if v is not None), None)
        if isinstance(first, dt.date):
            values[i] = column = [_as_text(v, True) for v in column]  # a few constants (the run's date)
        if isinstance(first, str) and _NULL in set(column):
            return None
        if None in column:
            values[i] = [_NULL if v is None else v for v in column]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(zip(*values))
    return buffer.getvalue()


@functools.lru_cache(maxsize=64)
def _as_text(value, postgres: bool):
    """A date or time as bulk_insert sends it: ISO text, UTC without zone on SQLite (as
    SQLAlchemy stores it), with its offset on PostgreSQL (for timestamptz)."""
    if value is None or not isinstance(value, dt.date):
        return value
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    if postgres:
        return value.isoformat(sep=" ")
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
