"""Builders and a live server for the partner tests (used by tests/test_partners_*.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from decimal import Decimal

import pytest

from crm.audit import Actor
from crm.models import Customer
from partners import services
from tests.clock_helpers import business_today

ACTOR = Actor("system", "tests")
_n = itertools.count(1)


def make_customer(database, name: str = "王小明", manager_id: int | None = None) -> int:
    n = next(_n)
    with database.transaction() as session:
        customer = Customer(
            customer_ref=f"CP{uuid.uuid4().hex[:8]}",
            name=name,
            id_number="110105196001010018",
            birth_date=dt.date(1960, 1, 1),
            gender="M",
            phone=f"139{n:08d}",
            city="上海",
            source="referral",
            account_manager_id=manager_id,
        )
        session.add(customer)
        session.flush()
        return customer.id


def make_partner(database, name: str | None = None, category: str = "dining") -> tuple[int, str]:
    with database.transaction() as session:
        partner, key = services.create_partner(session, ACTOR, name or f"商户{uuid.uuid4().hex[:6]}", category)
        return partner.id, key


def issue(database, customer_id: int, partner_id: int, value: str = "100.00", expires_on: dt.date | None = None) -> str:
    with database.transaction() as session:
        coupon = services.issue_coupon(
            session,
            ACTOR,
            customer_id,
            partner_id,
            Decimal(value),
            expires_on or business_today() + dt.timedelta(days=90),
        )
        return coupon.code


@pytest.fixture
def live_url(app):
    """The app on a real HTTP port (127.0.0.1), in a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    # Polled every 50 ms, not 0.5 s: shutdown() at teardown waits for the next poll.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def world(database):
    """A customer, a partner with a key, and one issued coupon."""
    customer_id = make_customer(database)
    partner_id, key = make_partner(database)
    code = issue(database, customer_id, partner_id)
    return {"customer_id": customer_id, "partner_id": partner_id, "key": key, "code": code}


@pytest.fixture
def unlimited_app(db_url):
    """The app with a rate limit no test of concurrency will reach (it overrides ``app``)."""
    from crm.app import create_app

    app = create_app({"env": "test", "database_url": db_url, "PARTNER_API_RATE": (100000.0, 100000)})
    yield app
    app.extensions["crm_db"].dispose()
