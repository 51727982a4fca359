"""An override never keeps a customer off the watchlist on one person's word (issue 20).

A pin below the watchlist that no second person has approved or confirmed gives way when a run
computes watchlist: the watchlist applies until a risk officer or admin other than the one who
set the pin confirms it; from then on the pin holds, on the next run too.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select, update
from test_segmentation_factories import D, days, feature_frame, feature_row

from crm import audit
from crm.demo import seed_demo
from crm.jobs import recalc
from crm.models import AuditEvent, CustomerTier, TierOverride
from segmentation import TierPolicy, assign_tiers
from tests.clock_helpers import business_today
from tests.conftest import csrf_token
from tests.template_helpers import seeded

AS_OF = dt.date(2026, 11, 24)
RULES = ("W_FRAUD", "W_LOSS", "W_FREQ")  # the watchlist triggers (not the retention)


@pytest.mark.parametrize(
    "pin, confirmed, features, expected",
    [
        ("standard", 0, {"fraud_flag": True}, ("watchlist", ("W_FRAUD",))),  # one person's word gives way
        ("standard", 1, {"fraud_flag": True}, ("standard", ("W_FRAUD", "M_OVERRIDE"))),  # confirmed: it holds
        ("vip", 0, {"fraud_flag": True}, ("watchlist", ("W_FRAUD",))),
        ("vip", 0, {}, ("vip", ("M_OVERRIDE",))),  # no watchlist computed: the pin holds as before
        ("watchlist", 0, {}, ("watchlist", ("M_OVERRIDE",))),  # pinning onto the watchlist needs no one
    ],
)
def test_engine_an_unconfirmed_pin_gives_way_to_a_computed_watchlist(pin, confirmed, features, expected):
    overrides = pd.DataFrame({"customer_id": [1], "tier": [pin], "expires_on": [days(30)], "confirmed": [confirmed]})
    r = assign_tiers(feature_frame(feature_row(**features)), None, overrides, TierPolicy(), as_of=D).loc[1]
    assert (r.tier, r.reasons) == expected
    assert r.computed_tier == ("watchlist" if features else "standard")


def _standard_customer_the_rules_put_on_the_watchlist(database) -> int:
    """A customer whose data the next run scores as watchlist, left as standard by an earlier
    run (before the fraud claim): the issue's customer."""
    seeded(database, "demo-400-4", lambda: seed_demo(database, 400, seed=4, as_of=AS_OF))
    with database.transaction() as s:
        rows = s.scalars(select(CustomerTier).where(CustomerTier.computed_tier == "watchlist")).all()
        target = next(t for t in rows if set(t.computed_reasons.split(";")) & set(RULES))
        assert s.scalar(select(TierOverride.id).where(TierOverride.customer_id == target.customer_id)) is None
        s.execute(
            update(CustomerTier)
            .where(CustomerTier.customer_id == target.customer_id)
            .values(tier="standard", reasons="", computed_tier="standard", computed_reasons="")
        )
        return target.customer_id


def _run(database) -> None:
    recalc.recalculate(database, recalc.RunRequest(as_of=AS_OF, actor=audit.Actor("system", "tests")))


def _confirm(client, override_id: int):
    return client.post(
        f"/tiers/overrides/{override_id}/confirm",
        data={"csrf_token": csrf_token(client, "/tiers/overrides"), "reason": "fraud claim withdrawn, file checked"},
        follow_redirects=True,
    )


def test_a_pin_holds_a_computed_watchlist_off_only_once_a_second_person_confirms(client, auth, make_user, database):
    customer_id = _standard_customer_the_rules_put_on_the_watchlist(database)
    _, setter = make_user("risk_officer")
    _, second = make_user("admin")
    auth.login(setter)
    client.post(
        f"/tiers/customers/{customer_id}/override",
        data={
            "csrf_token": csrf_token(client, f"/customers/{customer_id}"),
            "tier": "standard",
            "reason": "long-standing customer",
            "expires_on": (business_today() + dt.timedelta(days=365)).isoformat(),
        },
    )
    with database.session() as s:
        override = s.scalar(select(TierOverride).where(TierOverride.customer_id == customer_id))
        assert (override.status, override.confirmed_by_id) == ("active", None)  # a standard customer: no approval

    # The run computes watchlist: the unconfirmed pin gives way.
    _run(database)
    with database.session() as s:
        state = s.get(CustomerTier, customer_id)
        assert (state.tier, state.computed_tier) == ("watchlist", "watchlist")
        assert "M_OVERRIDE" not in state.reasons
    # Both pages say so; the setter is not offered the confirmation …
    page = client.get("/tiers/overrides").get_data(as_text=True)
    assert "awaiting confirmation: the watchlist applies" in page and "confirm-override" not in page
    assert "awaiting-confirmation" in client.get(f"/customers/{customer_id}").get_data(as_text=True)
    # … and the server refuses it from them.
    refused = _confirm(client, override.id)
    assert "four eyes" in refused.get_data(as_text=True)
    with database.session() as s:
        assert s.get(TierOverride, override.id).confirmed_by_id is None
        assert s.get(CustomerTier, customer_id).tier == "watchlist"

    # A second person confirms: the pin holds at once, and on the next run.
    auth.logout()
    auth.login(second)
    assert "confirm-override" in client.get("/tiers/overrides").get_data(as_text=True)
    _confirm(client, override.id)
    with database.session() as s:
        assert s.get(TierOverride, override.id).confirmed_by_id is not None
        state = s.get(CustomerTier, customer_id)
        assert (state.tier, state.computed_tier) == ("standard", "watchlist") and "M_OVERRIDE" in state.reasons
        events = s.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(customer_id))).all()
        assert "tier_override.confirm" in events
    _run(database)
    with database.session() as s:
        state = s.get(CustomerTier, customer_id)
        assert (state.tier, state.computed_tier) == ("standard", "watchlist") and "M_OVERRIDE" in state.reasons
    assert "awaiting confirmation" not in client.get("/tiers/overrides").get_data(as_text=True)


def test_only_a_risk_officer_or_admin_confirms(client, auth, make_user, database):
    customer_id = _standard_customer_the_rules_put_on_the_watchlist(database)
    setter_id, _ = make_user("risk_officer")
    with database.transaction() as s:
        s.add(
            TierOverride(
                customer_id=customer_id,
                tier="standard",
                reason="pinned before the fraud claim",
                expires_on=business_today() + dt.timedelta(days=200),
                status="active",
                requested_by_id=setter_id,
            )
        )
    _run(database)
    with database.session() as s:
        override = s.scalar(select(TierOverride).where(TierOverride.customer_id == customer_id))
        assert s.get(CustomerTier, customer_id).tier == "watchlist"
    _, manager = make_user("underwriter")
    auth.login(manager)
    response = client.post(
        f"/tiers/overrides/{override.id}/confirm",
        data={"csrf_token": csrf_token(client, "/customers"), "reason": "ok"},
    )
    assert response.status_code == 403
    with database.session() as s:
        assert s.get(TierOverride, override.id).confirmed_by_id is None
