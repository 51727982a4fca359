"""Tamper evidence of the records (防篡改): `crm audit verify` names every audited record whose
stored state is not the one the application left, and passes what the application did."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update

from crm import audit, record_digests
from crm.demo import seed_demo
from crm.importer import import_csv
from crm.jobs import recalc
from crm.models import AuditEvent, Claim, Customer, CustomerTier, Policy
from crm.models.benefits import EntitlementEntry
from crm.records import void_record
from partners import services
from partners.models import Coupon, Redemption
from tests.benefits_helpers import move
from tests.clock_helpers import business_today
from tests.factories import write_csv
from tests.partners_helpers import issue, make_partner
from tests.template_helpers import seeded

ACTOR = audit.Actor("system", "tests")
AS_OF = dt.date(2026, 11, 24)
# A direct UPDATE of each audited table: (table, key column, field, a value it does not hold)
TAMPERING = [
    ("customers", "id", "city", "'篡改市'"),
    ("policies", "id", "annual_premium", "1.00"),
    ("claims", "id", "reserve_amount", "999999"),
    ("coupons", "id", "value", "5000"),
    ("redemptions", "id", "amount", "0.01"),
    ("entitlement_entries", "id", "quantity", "99"),
    ("customer_tiers", "customer_id", "reasons", "'FORGED'"),
]


def _api(client, key: str, path: str, body: dict):
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex}
    return client.post(f"/api/partners/v1{path}", json=body, headers=headers)


# One secret for every test's app: the digests of the seeded world (a template, below) are
# made under it, as a deployment keeps its secret from one start to the next.
SECRET = "record-digests-tests-" + "5" * 44
_WORLDS: dict[str, dict] = {}  # database kind → the ids and key of its world (in the template)


@pytest.fixture
def app(db_url):
    from crm.app import create_app

    app = create_app({"env": "test", "database_url": db_url, "secret_key": SECRET})
    yield app
    app.extensions["crm_db"].dispose()


@pytest.fixture
def world(app, client, database):
    """A portfolio made only by the application: a demo seed (imports, a tier run, benefits),
    a coupon issued and redeemed through the partner API, a new VIP's entitlements. Made once
    per database kind and worker, copied for each test (tests/template_helpers.py)."""

    def build() -> None:
        with app.app_context():
            seed_demo(database, 40, seed=3, as_of=AS_OF)
        with database.session() as s:
            customer_id = s.scalar(select(CustomerTier.customer_id).where(CustomerTier.tier != "vip").limit(1))
        move(database, [customer_id], "vip")  # a tier changed by the application: entitlements granted
        partner_id, key = make_partner(database)
        code = issue(database, customer_id, partner_id)
        redeemed = _api(client, key, "/redemptions", {"code": code})
        assert redeemed.status_code == 201
        _WORLDS[database.dialect] = {"customer_id": customer_id, "partner_id": partner_id, "key": key, "code": code}

    seeded(database, "record-digests-world", build)
    return _WORLDS[database.dialect]


def _verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _one(database, table: str, key: str) -> int:
    with database.session() as s:
        return s.execute(text(f"SELECT MAX({key}) FROM {table}")).scalar_one()  # nosec B608 - test constants


def _raw(database, sql: str, **params) -> None:
    """Straight against the database, as someone with its password would."""
    with database.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_untouched_database_verifies_and_every_table_has_digests(world, runner, database):
    code, output = _verify(runner)
    assert code == 0, output
    assert "every audited record" in output
    with database.session() as s:
        for table in record_digests.SPECS:
            there = s.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()  # nosec B608
            digests = s.execute(text("SELECT COUNT(*) FROM record_digests WHERE tbl = :t"), {"t": table}).scalar_one()
            assert there > 0 and digests == there, table


def test_a_direct_update_of_each_audited_table_is_named_and_its_undo_verifies(world, runner, database):
    for table, key, field, value in TAMPERING:
        record = _one(database, table, key)
        with database.session() as s:
            before = s.execute(text(f"SELECT {field} FROM {table} WHERE {key} = :k"), {"k": record}).scalar_one()  # nosec B608
        _raw(database, f"UPDATE {table} SET {field} = {value} WHERE {key} = :k", k=record)  # nosec B608
        code, output = _verify(runner)
        assert code == 1, (table, output)
        assert f"{table} {record}: {field}\n" in output, (table, output)
        assert "1 records changed outside the application" in output
        _raw(database, f"UPDATE {table} SET {field} = :v WHERE {key} = :k", v=before, k=record)  # nosec B608
        code, output = _verify(runner)
        assert code == 0, (table, output)


def test_a_claims_reserve_set_to_999999_names_the_claim_and_the_field(world, runner, database):
    with database.session() as s:
        claim_id, other = s.execute(select(Claim.id, Claim.customer_id).order_by(Claim.id).limit(1)).one()
    _raw(database, "UPDATE claims SET reserve_amount = 999999, status = 'approved' WHERE id = :k", k=claim_id)
    _raw(database, "UPDATE customers SET phone = '13900000000' WHERE id = :k", k=other)
    code, output = _verify(runner)
    assert code == 1
    assert f"customers {other}: phone\n" in output
    assert f"claims {claim_id}: status, reserve_amount\n" in output


def test_a_forged_digest_does_not_hide_a_change(world, runner, database):
    """Whoever changes a record and rewrites its digest row without the app's secret is caught:
    the field checks can be made by anyone, the keyed digest cannot."""
    claim_id = _one(database, "claims", "id")
    _raw(database, "UPDATE claims SET paid_amount = 1 WHERE id = :k", k=claim_id)
    with database.session() as s:
        state = s.execute(
            text(f"SELECT {record_digests.state_sql(database.dialect, 'claims')} FROM claims WHERE id = :k"),  # nosec B608
            {"k": claim_id},
        ).scalar_one()
    forged = record_digests.mac("claims", claim_id, state, key=b"a guess at the secret")
    _raw(
        database,
        "UPDATE record_digests SET mac = :m, tags = :t WHERE tbl = 'claims' AND record_id = :k",
        m=forged,
        t=record_digests.tags(state),
        k=claim_id,
    )
    code, output = _verify(runner)
    assert code == 1 and f"claims {claim_id}: digest\n" in output


def _forged_coupon(database) -> int:
    """A coupon inserted outside the application (no digest): its id."""
    with database.session() as s:
        coupon = s.scalar(select(Coupon).limit(1))
    _raw(
        database,
        "INSERT INTO coupons (code, customer_id, partner_id, value, currency, unit_cost, status, issued_at, expires_on)"
        " VALUES ('FORGED0001', :c, :p, 888, 'CNY', 0, 'issued', :now, :exp)",
        c=coupon.customer_id,
        p=coupon.partner_id,
        now=dt.datetime(2026, 11, 24, 8, 0),
        exp=dt.date(2030, 1, 1),
    )
    return _one(database, "coupons", "id")


def test_a_deleted_and_an_inserted_record_are_reported(world, runner, database):
    entry = _one(database, "entitlement_entries", "id")
    _raw(database, "DELETE FROM entitlement_entries WHERE id = :k", k=entry)
    forged = _forged_coupon(database)
    code, output = _verify(runner)
    assert code == 1
    assert f"entitlement_entries {entry}: deleted\n" in output
    assert f"coupons {forged}: inserted\n" in output


def test_changes_made_through_the_application_verify(world, app, client, runner, database, tmp_path):
    # a re-import that changes a claim's reserve and a customer's city
    with database.session() as s:
        claim = s.scalar(select(Claim).where(Claim.status != "paid").order_by(Claim.id).limit(1))
        customer = s.get(Customer, world["customer_id"])
        policy_id, policy_no = claim.policy_id, claim.policy.policy_no
    row = {
        "claim_no": claim.claim_no,
        "policy_no": policy_no,
        "loss_date": claim.loss_date.isoformat(),
        "report_date": claim.report_date.isoformat(),
        "status": claim.status,
        "claimed_amount": f"{claim.claimed_amount + 12345:.2f}",
        "reserve_amount": "12345.67",
        "paid_amount": f"{claim.paid_amount:.2f}",
        "fraud_suspected": "1" if claim.fraud_suspected else "0",
    }
    path = write_csv(tmp_path / "claims.csv", [row])
    assert import_csv(database, "claims", path, ACTOR).updated == 1
    fields = ("customer_ref", "name", "id_number", "phone", "source")
    path = write_csv(tmp_path / "c.csv", [{**{f: getattr(customer, f) for f in fields}, "city": "杭州"}])
    assert import_csv(database, "customers", path, ACTOR).updated == 1
    # a service: voiding a policy that is not in force (ORM UPDATE statement)
    with database.session() as s:
        policy = s.scalar(select(Policy).where(Policy.status != "in_force", Policy.id != policy_id).limit(1))
    with database.transaction() as s:
        void_record(s, ACTOR, "policy", policy.id, "entered twice by mistake", business_today())
    # a recalculation a year on, and a coupon withdrawn and others expired
    summary = recalc.recalculate(database, recalc.RunRequest(as_of=AS_OF + dt.timedelta(days=400), actor=ACTOR))
    assert summary.changed > 0
    second = issue(database, world["customer_id"], world["partner_id"])
    with database.transaction() as s:
        assert services.void_coupon(s, ACTOR, s.scalar(select(Coupon.id).where(Coupon.code == second)), "test")
        services.expire_coupons(s, ACTOR, business_today() + dt.timedelta(days=400))
    # a redemption voided through the partner API
    with database.session() as s:
        redemption = s.scalar(select(Redemption.id))
    voided = _api(client, world["key"], f"/redemptions/{redemption}/void", {})
    assert voided.status_code == 200
    with database.session() as s:
        assert s.get(Claim, claim.id).reserve_amount == Decimal("12345.67")
        assert s.scalar(select(EntitlementEntry.id).limit(1)) is not None
    code, output = _verify(runner)
    assert code == 0, output


def test_a_recalculation_replaces_the_stale_digests_of_the_tiers_it_writes_and_no_other(world, database):
    """A tier row the run writes gets the digest of its new state, whatever digest it had; a
    tier row the run leaves as it was keeps its digest (here a wrong one: still named)."""
    _raw(database, "UPDATE record_digests SET mac = :mac WHERE tbl = 'customer_tiers'", mac="0" * 32)
    summary = recalc.recalculate(database, recalc.RunRequest(as_of=AS_OF + dt.timedelta(days=30), actor=ACTOR))
    with database.session() as s:
        written = set(s.scalars(select(CustomerTier.customer_id).where(CustomerTier.run_id == summary.run_id)))
        left = set(s.scalars(select(CustomerTier.customer_id).where(CustomerTier.run_id != summary.run_id)))
        found = [f for f in record_digests.verify(s, workers=1) if f.table == "customer_tiers"]
    assert written and left
    assert found == [record_digests.Finding("customer_tiers", k, ("digest",)) for k in sorted(left)]


def test_baseline_gives_records_from_before_digests_their_digest_audited(world, runner, database):
    _raw(database, "DELETE FROM record_digests WHERE tbl = 'policies'")  # as after the upgrade
    code, output = _verify(runner)
    assert code == 1 and "needs `crm audit baseline` once" in output
    result = runner.invoke(args=["audit", "baseline"])
    assert result.exit_code == 0, result.output
    with database.session() as s:
        policies = s.execute(text("SELECT COUNT(*) FROM policies")).scalar_one()
    assert f"policies: {policies}" in result.output and "claims: 0" in result.output
    assert _verify(runner)[0] == 0
    with database.session() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "audit.baseline"))
        assert event is not None and f'"policies":{policies}' in event.after


def test_an_update_that_leaves_a_record_as_it_was_does_not_hide_a_change_made_outside(world, runner, database):
    """A multi-row UPDATE through the application rewrites the digests of the rows it changed
    only: a row it matched and left as it was keeps its digest, so a change made to it
    straight in the database is still named."""
    with database.session() as s:
        a, status = s.execute(select(Claim.id, Claim.status).order_by(Claim.id).limit(1)).one()
        b = s.scalar(select(Claim.id).where(Claim.status != status).order_by(Claim.id).limit(1))
    _raw(database, "UPDATE claims SET reserve_amount = 999999 WHERE id = :k", k=a)
    with database.transaction() as s:
        assert s.execute(update(Claim).where(Claim.id.in_([a, b])).values(status=status)).rowcount == 2
    code, output = _verify(runner)
    assert code == 1
    assert f"claims {a}: reserve_amount\n" in output
    assert f"claims {b}:" not in output and "1 records changed outside the application" in output


def test_redemptions_with_an_amount_and_a_store_voided_and_redeemed_again_verify(world, client, runner, database):
    """The partner API's redemption and its coupon, in every state it gives them, hold the
    digest of the state it left (amounts and stores included)."""
    with database.transaction() as s:
        services.add_store(s, ACTOR, world["partner_id"], "SH-01", "静安店", "上海")
    code = issue(database, world["customer_id"], world["partner_id"], value="88.80")
    first = _api(client, world["key"], "/redemptions", {"code": code, "amount": "12.30", "store_id": "SH-01"})
    assert first.status_code == 201
    voided = _api(client, world["key"], f"/redemptions/{first.json['redemption_id']}/void", {"reason": "退单"})
    assert voided.status_code == 200
    assert _api(client, world["key"], "/redemptions", {"code": code}).status_code == 201
    exit_code, output = _verify(runner)
    assert exit_code == 0, output


def test_a_void_does_not_hide_a_change_made_outside_to_its_coupon(world, client, runner, database):
    """A void puts its coupon back from 'redeemed' only: a coupon moved on straight in the
    database keeps the state the void did not make, and verify still names it."""
    with database.session() as s:
        redemption, coupon = s.execute(select(Redemption.id, Redemption.coupon_id)).one()
    _raw(database, "UPDATE coupons SET status = 'expired' WHERE id = :k", k=coupon)
    assert _api(client, world["key"], f"/redemptions/{redemption}/void", {}).status_code == 200
    exit_code, output = _verify(runner)
    assert exit_code == 1
    assert f"coupons {coupon}: status\n" in output


def test_verify_split_over_worker_processes_finds_what_one_process_finds(world, database):
    """Records changed outside the application, at the ends of their tables and inside, are
    named the same when the tables are checked in slices by worker processes, each on its own
    connection, as when one process checks them all."""
    with database.session() as s:
        first_customer = s.scalar(select(Customer.id).order_by(Customer.id).limit(1))
        claim = s.scalar(select(Claim.id).order_by(Claim.id).offset(7).limit(1))
    last_policy, last_entry = _one(database, "policies", "id"), _one(database, "entitlement_entries", "id")
    tier = _one(database, "customer_tiers", "customer_id")
    _raw(database, "UPDATE customers SET city = '篡改市' WHERE id = :k", k=first_customer)
    _raw(database, "UPDATE claims SET reserve_amount = 999999, status = 'approved' WHERE id = :k", k=claim)
    _raw(database, "UPDATE customer_tiers SET reasons = 'FORGED' WHERE customer_id = :k", k=tier)
    _raw(database, "UPDATE policies SET annual_premium = 1.00 WHERE id = :k", k=last_policy)
    _raw(database, "DELETE FROM entitlement_entries WHERE id = :k", k=last_entry)
    forged = _forged_coupon(database)
    expected = [
        record_digests.Finding("customers", first_customer, ("city",)),
        record_digests.Finding("policies", last_policy, ("annual_premium",)),
        record_digests.Finding("claims", claim, ("status", "reserve_amount")),
        record_digests.Finding("coupons", forged, ("inserted",)),
        record_digests.Finding("entitlement_entries", last_entry, ("deleted",)),
        record_digests.Finding("customer_tiers", tier, ("reasons",)),
    ]
    with database.session() as s:
        alone = record_digests.verify(s, workers=1, keys_per_slice=5)
    with database.session() as s:
        split = record_digests.verify(s, workers=2, keys_per_slice=5)
    assert alone == expected
    assert split == alone
