"""Grey and black lists (issue 20): two people put a customer on the black list and two take
them off; a black-listed customer's new business and claims wait for a risk officer; the
export says each customer's list level."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import select

from crm.audit import Actor
from crm.customers import blacklist
from crm.models import AuditEvent, User
from crm.models.lists import BlacklistEntry
from crm.models.review import ReviewCase
from crm.review import services
from tests.conftest import csrf_token
from tests.review_helpers import claim, customer, policy

ACTOR = Actor("system", "tests")


def _post(client, customer_id: int, path: str = "", reason: str = "fraud confirmed by the investigation"):
    return client.post(
        f"/customers/{customer_id}/blacklist{path}",
        data={"csrf_token": csrf_token(client, f"/customers/{customer_id}"), "reason": reason},
        follow_redirects=True,
    )


def _entry(database, customer_id: int) -> BlacklistEntry | None:
    with database.session() as s:
        return s.scalar(select(BlacklistEntry).where(BlacklistEntry.customer_id == customer_id))


def _black_list(database, customer_id: int, make_user) -> tuple[int, int]:
    """Put a customer on the black list through the service, by two risk officers."""
    first, _ = make_user("risk_officer")
    second, _ = make_user("risk_officer")
    with database.transaction() as s:
        entry = blacklist.request_entry(s, ACTOR, s.get(User, first), customer_id, "fraud confirmed")
        blacklist.decide_entry(s, ACTOR, s.get(User, second), entry.id, True)
    return first, second


def _cases(database, reason: str) -> list[ReviewCase]:
    with database.session() as s:
        return list(s.scalars(select(ReviewCase).where(ReviewCase.reason == reason)))


def test_entry_takes_a_second_person_never_the_requester(client, auth, make_user, database, tmp_path):
    grey = customer(database, tmp_path, tier="watchlist")
    _, requester = make_user("risk_officer")
    _, admin = make_user("admin")
    auth.login(requester)
    assert "Grey list" in client.get("/customers").get_data(as_text=True)
    _post(client, grey["id"])
    entry = _entry(database, grey["id"])
    assert entry.status == "pending"
    page = client.get(f"/customers/{grey['id']}").get_data(as_text=True)
    assert "blacklist-pending" in page and 'id="blacklist-confirm"' not in page  # not offered to the requester
    refused = _post(client, grey["id"], f"/{entry.id}/confirm")
    assert "four eyes" in refused.get_data(as_text=True)
    assert _entry(database, grey["id"]).status == "pending"
    with database.session() as s:
        assert blacklist.list_levels(s, [grey["id"]]) == {grey["id"]: "grey"}  # not in effect yet

    auth.logout()
    auth.login(admin)
    assert 'id="blacklist-confirm"' in client.get(f"/customers/{grey['id']}").get_data(as_text=True)
    _post(client, grey["id"], f"/{entry.id}/confirm")
    assert _entry(database, grey["id"]).status == "active"
    assert "list-black" in client.get(f"/customers/{grey['id']}").get_data(as_text=True)
    assert "list-black" in client.get("/customers").get_data(as_text=True)
    with database.session() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(grey["id"]))).all()
    assert {"blacklist.request", "blacklist.confirm"} <= set(actions)


def test_only_a_risk_officer_asks_and_only_for_a_customer_on_the_grey_list(client, auth, make_user, database, tmp_path):
    standard = customer(database, tmp_path, tier="standard")
    grey = customer(database, tmp_path, tier="watchlist")
    _, underwriter = make_user("underwriter")
    auth.login(underwriter)
    assert _post(client, grey["id"]).status_code == 403
    auth.logout()
    _, officer = make_user("risk_officer")
    auth.login(officer)
    assert "grey list" in _post(client, standard["id"]).get_data(as_text=True)
    assert _entry(database, standard["id"]) is None and _entry(database, grey["id"]) is None


def test_new_business_of_a_black_listed_customer_waits_for_a_risk_officer(make_user, database, tmp_path):
    black = customer(database, tmp_path, tier="watchlist")
    _black_list(database, black["id"], make_user)
    policy(database, tmp_path, black)
    [case] = _cases(database, "blacklist_new_business")
    assert (case.queue, case.state, case.decision) == ("underwriting", "escalated", None)
    underwriter, _ = make_user("underwriter")
    officer, _ = make_user("risk_officer")
    with database.transaction() as s:
        with pytest.raises(services.ReviewError):
            services.claim_case(s, case.id, s.get(User, underwriter), ACTOR)
        with pytest.raises(services.NotAllowed):
            services.decide(s, case.id, s.get(User, underwriter), "approved", "looks fine", ACTOR)
    with database.transaction() as s:
        services.decide(s, case.id, s.get(User, officer), "approved", "checked with the SIU", ACTOR)
    assert _cases(database, "blacklist_new_business")[0].decision == "approved"


def test_every_claim_of_a_black_listed_customer_is_escalated(make_user, database, tmp_path):
    black = customer(database, tmp_path, tier="watchlist")
    pol = policy(database, tmp_path, black, initial_load=True)
    _black_list(database, black["id"], make_user)
    claim(database, tmp_path, pol, claimed_amount="800.00", paid_amount="0.00", status="reported")
    [case] = _cases(database, "blacklist_claim")
    assert (case.queue, case.state) == ("claims", "escalated")
    reviewer, _ = make_user("claims_reviewer")
    with database.transaction() as s, pytest.raises(services.NotAllowed):
        services.decide(s, case.id, s.get(User, reviewer), "approved", "small claim", ACTOR)
    # Customers not on the black list: no such case.
    other = customer(database, tmp_path, tier="watchlist")
    claim(database, tmp_path, policy(database, tmp_path, other, initial_load=True), status="reported")
    assert len(_cases(database, "blacklist_claim")) == 1


def test_taking_someone_off_takes_two_people(client, auth, make_user, database, tmp_path):
    black = customer(database, tmp_path, tier="watchlist")
    first, _ = _black_list(database, black["id"], make_user)
    entry = _entry(database, black["id"])
    _, asker = make_user("risk_officer")
    _, confirmer = make_user("risk_officer")
    auth.login(asker)
    _post(client, black["id"], f"/{entry.id}/remove", reason="fraud finding overturned on appeal")
    assert _entry(database, black["id"]).removal_requested_by_id is not None
    assert "four eyes" in _post(client, black["id"], f"/{entry.id}/confirm-removal").get_data(as_text=True)
    assert _entry(database, black["id"]).status == "active"  # still black-listed
    auth.logout()
    auth.login(confirmer)
    _post(client, black["id"], f"/{entry.id}/confirm-removal")
    assert _entry(database, black["id"]).status == "removed"
    with database.session() as s:
        assert blacklist.list_levels(s, [black["id"]]) == {black["id"]: "grey"}
    policy(database, tmp_path, black)
    assert _cases(database, "blacklist_new_business") == []


def test_export_says_each_customers_list_level(runner, make_user, database, tmp_path):
    plain = customer(database, tmp_path, tier="standard")
    grey = customer(database, tmp_path, tier="watchlist")
    black = customer(database, tmp_path, tier="watchlist")
    _black_list(database, black["id"], make_user)
    out = tmp_path / "export"
    assert runner.invoke(args=["export", "data", str(out)]).exit_code == 0
    with open(out / "customers.csv", newline="", encoding="utf-8") as f:
        levels = {r["customer_ref"]: r["list_level"] for r in csv.DictReader(f)}
    assert {levels[c["customer_ref"]] for c in (plain, grey, black)} == {"none", "grey", "black"}
    assert [levels[c["customer_ref"]] for c in (plain, grey, black)] == ["none", "grey", "black"]
    schema = json.loads((out / "customers.schema.json").read_text())
    assert schema["properties"]["list_level"] == {"type": "string", "enum": ["none", "grey", "black"]}
    assert json.loads((out / "manifest.json").read_text())["version"] == "1.2"
