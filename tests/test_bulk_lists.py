"""crm.bulk.any_of: a column matched against a list of ids or keys bound as one parameter."""

from __future__ import annotations

from sqlalchemy import select

from crm.audit import Actor
from crm.bulk import any_of
from crm.importer import import_csv
from crm.models import Customer
from tests.factories import customer_row, write_csv


def _refs(database, values) -> set[str]:
    with database.session() as s:
        column = Customer.customer_ref
        return set(s.scalars(select(column).where(any_of(s, column, values))))


def test_a_key_matches_whole_values_only(database, tmp_path):
    """A value longer than the column (VARCHAR(40)) that begins with a stored key is not that
    key: the list is not cut down to the column's length before it is compared."""
    rows = [customer_row(customer_ref="K" * 40), customer_row(customer_ref="SHORT1")]
    import_csv(database, "customers", write_csv(tmp_path / "c.csv", rows), Actor("system", "tests"))
    assert _refs(database, ["K" * 40 + "X", "SHORT1", "ABSENT"]) == {"SHORT1"}
    assert _refs(database, ["K" * 40]) == {"K" * 40}
    assert _refs(database, []) == set()


def test_a_long_list_of_ids_matches_exactly_the_stored_ones(database, tmp_path):
    """Tens of thousands of ids, as a sweep or an import hands over: the stored ones among them
    match, and only they."""
    rows = [customer_row() for _ in range(3)]
    import_csv(database, "customers", write_csv(tmp_path / "c.csv", rows), Actor("system", "tests"))
    with database.session() as s:
        ids = list(s.scalars(select(Customer.id)))
        wanted = ids[:2] + list(range(10**6, 10**6 + 40_000))
        found = set(s.scalars(select(Customer.id).where(any_of(s, Customer.id, wanted))))
    assert found == set(ids[:2])
