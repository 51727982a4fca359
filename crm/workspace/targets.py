"""Teams and annual targets, and plan against actual (as the branch report of DOMAIN.md §4)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import audit
from crm.models import User
from crm.models.workspace import TARGET_METRICS, Target, Team, TeamMember
from crm.workspace.metrics import progress
from crm.workspace.visits import visit_count


class TargetError(ValueError):
    """A target or team could not be saved; the message says why."""


def create_team(session: Session, actor: audit.Actor, name: str, member_ids: list[int]) -> Team:
    """A new team of account managers; a manager already in another team moves to this one."""
    name = name.strip()
    if not name:
        raise TargetError(_l("a team needs a name"))
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise TargetError(_l("a team %(name)s exists already", name=repr(name)))
    team = Team(name=name)
    session.add(team)
    session.flush()
    set_members(session, actor, team, member_ids)
    return team


def set_members(session: Session, actor: audit.Actor, team: Team, member_ids: list[int]) -> None:
    """Make exactly ``member_ids`` (account managers) the team's members."""
    managers = set(session.scalars(select(User.id).where(User.id.in_(member_ids), User.role == "account_manager")))
    if managers != set(member_ids):
        raise TargetError(_l("team members must be account managers"))
    session.execute(delete(TeamMember).where((TeamMember.team_id == team.id) | TeamMember.user_id.in_(managers)))
    session.add_all(TeamMember(user_id=uid, team_id=team.id) for uid in sorted(managers))
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change("team.members", "team", team.id, None, {"name": team.name, "members": sorted(managers)}),
    )


def set_target(
    session: Session,
    actor: audit.Actor,
    year: int,
    metric: str,
    amount: Decimal,
    manager_id: int | None = None,
    team_id: int | None = None,
) -> Target:
    """Create or change the annual target of one manager or one team (audited with the old value)."""
    if metric not in TARGET_METRICS:
        raise TargetError(_l("unknown metric %(metric)s", metric=repr(metric)))
    if (manager_id is None) == (team_id is None):
        raise TargetError(_l("a target is for one manager or one team"))
    if amount < 0:
        raise TargetError(_l("a target cannot be negative"))
    if (
        manager_id is not None
        and session.scalar(select(User.id).where(User.id == manager_id, User.role == "account_manager")) is None
    ):
        raise TargetError(_l("no such account manager"))
    if team_id is not None and session.get(Team, team_id) is None:
        raise TargetError(_l("no such team"))
    key = f"manager:{manager_id}" if manager_id is not None else f"team:{team_id}"
    target = session.scalar(
        select(Target).where(Target.year == year, Target.metric == metric, Target.subject_key == key)
    )
    before = None if target is None else {"amount": target.amount}
    if target is None:
        target = Target(
            year=year,
            metric=metric,
            subject_key=key,
            manager_id=manager_id,
            team_id=team_id,
            amount=amount,
            updated_by=actor.label,
        )
        session.add(target)
    else:
        target.amount, target.updated_by = amount, actor.label
    try:
        session.flush()
    except IntegrityError:  # two admins created the same target at once
        raise TargetError(_l("this target was just set by someone else; reload and try again")) from None
    audit.record(
        session,
        actor,
        audit.Change(
            "target.set",
            "target",
            target.id,
            before,
            {"year": year, "metric": metric, "subject": key, "amount": amount},
        ),
    )
    return target


@dataclass(frozen=True)
class Progress:
    subject: str  # a manager's or team's name
    subject_key: str
    metric: str
    plan: Decimal | None
    actual: Decimal
    ratio: float | None  # actual / plan


def _members(session: Session) -> dict[int, list[int]]:
    teams: dict[int, list[int]] = {}
    for team_id, user_id in session.execute(select(TeamMember.team_id, TeamMember.user_id)):
        teams.setdefault(team_id, []).append(user_id)
    return teams


def plan_vs_actual(
    session: Session, user: User, year: int, today: dt.date, long_term_by_manager: dict
) -> list[Progress]:
    """Every target the user may see for ``year``: an account manager their own and their team's.

    ``long_term_by_manager`` ({manager id as text: premium}) comes from the newest report
    snapshot; visit counts are counted now (an indexed count).
    """
    members = _members(session)
    names = {u.id: u.full_name or u.email for u in session.scalars(select(User).where(User.role == "account_manager"))}
    teams = {t.id: t.name for t in session.scalars(select(Team))}
    stmt = select(Target).where(Target.year == year)
    if user.role == "account_manager":
        own_team = next((t for t, ids in members.items() if user.id in ids), None)
        stmt = stmt.where((Target.manager_id == user.id) | (Target.team_id == own_team))
    rows = []
    for target in session.scalars(stmt.order_by(Target.subject_key, Target.metric)):
        ids = [target.manager_id] if target.manager_id else members.get(target.team_id, [])
        if target.metric == "visits":
            actual = Decimal(visit_count(session, ids, year, today))
        else:
            actual = sum((Decimal(str(long_term_by_manager.get(str(i), 0))) for i in ids), Decimal("0"))
        subject = names.get(target.manager_id, "?") if target.manager_id else teams.get(target.team_id, "?")
        rows.append(
            Progress(subject, target.subject_key, target.metric, target.amount, actual, progress(actual, target.amount))
        )
    return rows


@dataclass(frozen=True)
class Persistency:
    subject: str
    due: Decimal  # annual premium whose 13th month ended in the last 12 months
    kept: Decimal  # of it, still in force 13 months after the start
    rate: float | None


def persistency(session: Session, user: User, by_manager: dict) -> list[Persistency]:
    """13-month persistency per account manager and per team (an account manager: their own and
    their team's). ``by_manager`` ({manager id as text: [due, kept]}) comes from the newest snapshot."""
    members = _members(session)
    names = {u.id: u.full_name or u.email for u in session.scalars(select(User).where(User.role == "account_manager"))}
    teams = {t.id: t.name for t in session.scalars(select(Team).order_by(Team.name))}
    subjects = [(names[i], [i]) for i in sorted(names, key=names.get)] + [(teams[t], members.get(t, [])) for t in teams]
    if user.role == "account_manager":
        subjects = [(name, ids) for name, ids in subjects if user.id in ids]
    rows = []
    for name, ids in subjects:
        due = sum((Decimal(str(by_manager.get(str(i), [0, 0])[0])) for i in ids), Decimal("0"))
        kept = sum((Decimal(str(by_manager.get(str(i), [0, 0])[1])) for i in ids), Decimal("0"))
        if due:
            rows.append(Persistency(name, due, kept, progress(kept, due)))
    return rows
