"""Visits and follow-ups: logging, reminders, weekly and monthly counts (hand-computed), targets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.models import AuditEvent, User
from crm.workspace import targets, visits
from crm.workspace.snapshots import take_snapshot
from tests.clock_helpers import business_today
from tests.conftest import csrf_token
from tests.workspace_helpers import ACTOR, AS_OF, two_portfolios

D = dt.date


def _log(s, user, customer_id, day, kind="visit", due=None, step=""):
    return visits.log_visit(s, ACTOR, user, customer_id, visits.VisitInput(kind, day, "talked", step, due), AS_OF)


def test_counts_reminders_and_closing_follow_ups(database, make_user, tmp_path):
    mine_id, mine = make_user("account_manager")
    other_id, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, mine, other)
    with database.transaction() as s:
        me, them = s.get(User, mine_id), s.get(User, other_id)
        # AS_OF is Monday 2025-06-30: its week is 06-30..07-06; the one before 06-23..06-29.
        _log(s, me, ids["a"], D(2025, 6, 23), due=D(2025, 6, 27), step="send proposal")  # overdue …
        _log(s, me, ids["b"], D(2025, 6, 28), "event")
        _log(s, me, ids["b"], D(2025, 6, 29), "call", due=D(2025, 7, 7), step="call back")  # due within 7 days
        _log(s, me, ids["a"], D(2025, 5, 31), "call", due=D(2025, 8, 1), step="later")  # not due yet
        _log(s, me, ids["b"], D(2025, 6, 30), "visit")  # closes B's call-back: the contact took place
        _log(s, them, ids["c"], D(2025, 6, 24))
        with pytest.raises(visits.VisitError):
            _log(s, me, ids["a"], D(2025, 7, 1))  # in advance
        with pytest.raises(visits.VisitError):
            _log(s, me, ids["a"], D(2025, 6, 1), due=D(2025, 6, 2))  # a due date without a next step
    with database.session() as s:
        me, admin = s.get(User, mine_id), User(id=0, role="admin")
        due = visits.due_follow_ups(s, me, AS_OF)
        assert [v.next_step for v in due] == ["send proposal"]
        assert visits.count_due(s, me, AS_OF) == 1 and visits.count_due(s, admin, AS_OF) == 1
        mondays, weekly = visits.weekly_counts(s, admin, AS_OF, weeks=2)
        assert mondays == [D(2025, 6, 23), D(2025, 6, 30)]
        assert weekly == {mine_id: [3, 1], other_id: [1, 0]}
        assert visits.weekly_counts(s, me, AS_OF, weeks=2)[1] == {mine_id: [3, 1]}
        june = {m.manager_id: m for m in visits.monthly_summary(s, admin, 2025, 6)}
        assert (june[mine_id].visits, june[mine_id].calls, june[mine_id].events, june[mine_id].customers) == (
            2,
            1,
            1,
            2,
        )
        assert june[other_id].total == 1
        assert visits.monthly_summary(s, admin, 2025, 5)[0].calls == 1
        assert visits.visit_count(s, [mine_id, other_id], 2025) == 6
    with database.transaction() as s:
        me = s.get(User, mine_id)
        _log(s, me, ids["a"], D(2025, 6, 30), "call", due=D(2025, 7, 2), step="confirm")  # closes A's earlier ones
        assert [v.next_step for v in visits.due_follow_ups(s, me, AS_OF)] == ["confirm"]
        visit = visits.due_follow_ups(s, me, AS_OF)[0]
        visits.complete_follow_up(s, ACTOR, me, visit.id)
        with pytest.raises(visits.VisitError):  # once only
            visits.complete_follow_up(s, ACTOR, me, visit.id)
    with database.session() as s:
        assert visits.count_due(s, s.get(User, mine_id), AS_OF) == 0
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "visit.follow_up_done")) is not None


def test_log_a_visit_through_the_page(client, login_as, make_user, database, tmp_path):
    me_id, me = login_as("account_manager")
    _, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, me, other)
    page = f"/customers/{ids['a']}/visits/new"
    token = csrf_token(client, page)
    bad = client.post(
        page,
        data={
            "csrf_token": token,
            "kind": "visit",
            "visit_date": "2025-06-01",
            "outcome": "",
            "next_step_due": "2025-06-05",
        },
    )
    assert bad.status_code == 422 and "Say what the next step is" in bad.get_data(as_text=True)
    today = business_today().isoformat()  # the app's date, not the server's
    ok = client.post(
        page,
        data={
            "csrf_token": token,
            "kind": "call",
            "visit_date": today,
            "outcome": "回访满意",
            "next_step": "送计划书",
            "next_step_due": today,
        },
    )
    assert ok.status_code == 302
    assert "回访满意" in client.get(f"/customers/{ids['a']}").get_data(as_text=True)
    html = client.get("/workspace/visits").get_data(as_text=True)
    assert "送计划书" in html and 'id="weekly-table"' in html
    assert 'id="tile-follow-ups"' in client.get("/dashboard").get_data(as_text=True)


def test_targets_plan_against_actual(client, login_as, make_user, database, tmp_path):
    admin_id, _ = make_user("admin")
    mine_id, mine = make_user("account_manager")
    other_id, other = make_user("account_manager")
    two_portfolios(database, tmp_path, mine, other)
    with database.transaction() as s:
        team = targets.create_team(s, ACTOR, "一组", [mine_id, other_id])
        targets.set_target(s, ACTOR, 2025, "long_term_premium", Decimal("100000"), manager_id=mine_id)
        targets.set_target(s, ACTOR, 2025, "long_term_premium", Decimal("200000"), team_id=team.id)
        targets.set_target(s, ACTOR, 2025, "visits", Decimal("10"), manager_id=mine_id)
        with pytest.raises(targets.TargetError):
            targets.set_target(s, ACTOR, 2025, "visits", Decimal("10"), manager_id=mine_id, team_id=team.id)
        _log(s, s.get(User, mine_id), next(iter(_customers(s, mine_id))), D(2025, 3, 3))
    take_snapshot(database, AS_OF, "t", ACTOR)
    with database.session() as s:
        from crm.workspace.snapshots import figures

        lt = figures(s, "all")[1]["long_term_new"]["by_manager"]
        rows = {(r.subject_key, r.metric): r for r in targets.plan_vs_actual(s, s.get(User, admin_id), 2025, AS_OF, lt)}
    # Only policy A counts: 20 years, annual payment, started 2025-02-01 (B is single, C and D older).
    mine_lt = rows[(f"manager:{mine_id}", "long_term_premium")]
    assert mine_lt.actual == Decimal("65540.00") and round(mine_lt.ratio * 100, 2) == 65.54
    assert rows[(f"team:{team.id}", "long_term_premium")].ratio == pytest.approx(0.3277)
    assert rows[(f"manager:{mine_id}", "visits")].actual == 1
    login = client.post(
        "/login", data={"email": mine, "password": "Sturdy-Password-42", "csrf_token": csrf_token(client)}
    )
    assert login.status_code == 302
    html = client.get("/workspace/targets?year=2025").get_data(as_text=True)
    assert "65.54% of the annual plan" in html and "Set an annual target" not in html


def _customers(s, manager_id):
    from crm.models import Customer

    return s.scalars(select(Customer.id).where(Customer.account_manager_id == manager_id))


def test_demo_seed_adds_visits_targets_and_a_snapshot(database, make_user, tmp_path):
    from crm.models.workspace import ReportSnapshot, Target, Visit
    from crm.workspace import demo

    emails = [make_user("account_manager", email=e)[1] for e in demo.MANAGERS]
    two_portfolios(database, tmp_path, emails[0], emails[1])
    demo.seed(database, ACTOR, AS_OF)
    demo.seed(database, ACTOR, AS_OF)  # a second seed adds nothing
    with database.session() as s:
        assert s.query(Visit).count() > 20
        assert s.query(Visit).filter(Visit.visit_date > AS_OF).count() == 0
        assert s.query(Target).filter(Target.year == AS_OF.year).count() == 8
        assert s.query(ReportSnapshot).count() == 1


def test_face_to_face_visit_rate_and_effective_visits(database, make_user, tmp_path, client, login_as):
    from tests.workspace_helpers import set_tier

    mine_id, mine = make_user("account_manager")
    other_id, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, mine, other)
    set_tier(database, ids["a"], "vip")
    with database.transaction() as s:
        me, them = s.get(User, mine_id), s.get(User, other_id)
        _log(s, me, ids["a"], D(2025, 3, 1))  # more than 90 days before either week: the VIP is due
        _log(s, me, ids["b"], D(2025, 6, 24), "call", due=D(2025, 6, 27), step="call back")  # B due in week 1
        _log(s, me, ids["a"], D(2025, 6, 25), due=D(2025, 7, 2), step="send proposal")  # met; due again in week 2
        _log(s, me, ids["a"], D(2025, 6, 30))  # met again, with no next step: not an effective visit
        _log(s, them, ids["c"], D(2025, 6, 24))  # nobody of theirs was due
    with database.session() as s:
        admin = User(id=0, role="admin")
        mondays, rates = visits.face_to_face_rates(s, admin, AS_OF, weeks=2)
        assert mondays == [D(2025, 6, 23), D(2025, 6, 30)]
        week1, week2 = rates[mine_id]
        assert (week1.due, week1.visited, week1.effective, week1.rate) == (2, 1, 2, 0.5)  # B had only a call
        assert (week2.due, week2.visited, week2.effective, week2.rate) == (1, 1, 0, 1.0)
        assert other_id not in rates
        assert visits.face_to_face_rates(s, s.get(User, other_id), AS_OF, weeks=2)[1] == {}
        june = {m.manager_id: m for m in visits.monthly_summary(s, admin, 2025, 6)}
        assert (june[mine_id].effective, june[mine_id].total) == (2, 3)


def test_visits_page_shows_this_weeks_face_to_face_rate(database, make_user, tmp_path, client, login_as):
    from zoneinfo import ZoneInfo

    from tests.workspace_helpers import set_tier

    mine_id, mine = make_user("account_manager")
    _, other = make_user("account_manager")
    ids = two_portfolios(database, tmp_path, mine, other)
    set_tier(database, ids["a"], "vip")
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the page's business day
    with database.transaction() as s:
        visits.log_visit(
            s,
            ACTOR,
            s.get(User, mine_id),
            ids["a"],
            visits.VisitInput("visit", today, "talked", "send proposal", today),
            today,
        )
    login_as("admin")
    html = client.get("/workspace/visits").get_data(as_text=True)
    table = html.split('id="rates-table"')[1].split("</table>")[0]
    last_cell = table.split("<tr><td>")[1].split("</td>")[-2]
    assert "100%" in last_cell and "1/1" in last_cell
