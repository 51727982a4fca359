"""Users: creation and authentication with a per-account lock-out kept in the database."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import audit
from crm.auth.passwords import WeakPassword, check_policy, hash_password, verify_no_one, verify_password
from crm.db import utcnow
from crm.models import LoginThrottle, User, UserSession
from crm.validators import ROLES


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


def create_user(
    session: Session,
    actor: audit.Actor,
    email: str,
    role: str,
    password: str,
    full_name: str = "",
    locale: str = "en",
    enforce_policy: bool = True,
) -> User:
    email = email.strip().lower()
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 254:
        raise UserError(f"{email!r} is not an e-mail address")
    if session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise UserError(f"a user {email} exists already")
    if enforce_policy:
        _check_password(password, email)
    user = User(email=email, role=role, password_hash=hash_password(password), full_name=full_name, locale=locale)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change("user.create", "user", user.id, None, {"email": email, "role": role, "full_name": full_name}),
    )
    return user


def _check_password(password: str, email: str) -> None:
    try:
        check_policy(password, email)
    except WeakPassword as exc:
        raise PasswordRefused(exc.code, f"password refused: {exc}") from None


class PasswordRefused(UserError):
    """A new password is against the policy; ``code`` names the rule (crm.auth.passwords)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def change_password(session: Session, actor: audit.Actor, user: User, current: str, new: str) -> None:
    """Set ``user``'s password to ``new`` after checking ``current``, and end every session of
    theirs (the caller starts a new one for the browser that asked). Raises UserError (a
    wrong current password) or PasswordRefused."""
    if not verify_password(user.password_hash, current):
        raise UserError(_l("the current password is not right"))
    if new == current:
        raise PasswordRefused("same", "password refused: the new password is the current one")
    _check_password(new, user.email)
    user.password_hash = hash_password(new)
    ended = end_sessions(session, user.id)
    audit.record(session, actor, audit.Change("user.password_change", "user", user.id, None, {"sessions_ended": ended}))


def set_full_name(session: Session, actor: audit.Actor, user_id: int, full_name: str) -> User:
    """Change the name a user is shown by (pages name people, not e-mail addresses); audited.
    Raises UserError for an unknown user."""
    user = session.get(User, user_id)
    if user is None:
        raise UserError(f"no user {user_id}")
    before, user.full_name = user.full_name, full_name.strip()[:100]
    if before != user.full_name:
        audit.record(
            session,
            actor,
            audit.Change("user.rename", "user", user.id, {"full_name": before}, {"full_name": user.full_name}),
        )
    return user


def set_active(session: Session, actor: audit.Actor, user_id: int, active: bool) -> User:
    """Activate or deactivate a user; deactivating ends every session of theirs at once.
    Raises UserError for an unknown user or an admin deactivating their own account."""
    user = session.get(User, user_id)
    if user is None:
        raise UserError(f"no user {user_id}")
    if not active and actor.id == str(user.id):
        raise UserError(_l("you cannot deactivate your own account"))
    before = user.active
    user.active = active
    ended = 0 if active else end_sessions(session, user.id)
    audit.record(
        session,
        actor,
        audit.Change(
            "user.activate" if active else "user.deactivate",
            "user",
            user.id,
            {"active": before},
            {"active": active, "sessions_ended": ended},
        ),
    )
    return user


def active_sessions(
    session: Session, user_id: int, idle: dt.timedelta, absolute: dt.timedelta, now: dt.datetime | None = None
) -> list[UserSession]:
    """The sessions of ``user_id`` still within the idle and absolute limits, latest first."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.last_seen_at > now - idle - dt.timedelta(minutes=1),
                UserSession.created_at > now - absolute,
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def end_sessions(session: Session, user_id: int, session_id: int | None = None) -> int:
    """Delete ``user_id``'s stored sessions (only ``session_id`` if given): their cookies open
    nothing any more. Returns how many ended. Not audited here: the caller's change is."""
    statement = delete(UserSession).where(UserSession.user_id == user_id)
    if session_id is not None:
        statement = statement.where(UserSession.id == session_id)
    return session.execute(statement).rowcount


def end_session_by_admin(session: Session, actor: audit.Actor, user_id: int, session_id: int | None = None) -> int:
    """An admin ends one session of a user, or all of them; audited. Returns how many ended."""
    ended = end_sessions(session, user_id, session_id)
    audit.record(
        session,
        actor,
        audit.Change("user.sessions_end", "user", user_id, None, {"session": session_id, "sessions_ended": ended}),
    )
    return ended


class LoginRefused(Exception):
    """Wrong e-mail or password, or locked for now; deliberately says no more."""

    def __init__(self, locked: bool = False):
        super().__init__("locked" if locked else "invalid")
        self.locked = locked


SOURCE_MAX_FAILURES = 5  # from one address: then that address waits SOURCE_LOCK
SOURCE_LOCK = dt.timedelta(minutes=15)
ACCOUNT_MAX_FAILURES = 30  # from all addresses within ACCOUNT_WINDOW: a distributed guess
ACCOUNT_WINDOW = dt.timedelta(minutes=15)
ACCOUNT_LOCK = dt.timedelta(minutes=5)


def _throttle(session: Session, email: str, source: str) -> LoginThrottle | None:
    return session.scalar(select(LoginThrottle).where(LoginThrottle.email == email, LoginThrottle.source == source))


def _count_failure(session: Session, email: str, source: str, user: User | None, now: dt.datetime) -> None:
    """One more failure for (account, source), and for the account as a whole; lock when due.

    Counted in the database (so that it holds across workers), by single UPDATEs.
    """
    row = _throttle(session, email, source)
    if row is None:
        try:
            with session.begin_nested():
                session.add(LoginThrottle(email=email, source=source, failures=1, last_failed_at=now))
        except IntegrityError:  # a concurrent failure created it
            row = _throttle(session, email, source)
    if row is not None:
        if row.last_failed_at < now - SOURCE_LOCK:
            row.failures = 0
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.id == row.id)
            .values(failures=LoginThrottle.failures + 1, last_failed_at=now)
        )
        session.refresh(row)
        if row.failures >= SOURCE_MAX_FAILURES:
            row.locked_until, row.failures = now + SOURCE_LOCK, 0
            audit.record(
                session,
                audit.Actor("system", "login"),
                audit.Change(
                    "login.source_locked",
                    "user",
                    user.id if user else None,
                    None,
                    {"source": source, "until": row.locked_until},
                ),
            )
    if user is not None:
        if user.last_failed_at is not None and user.last_failed_at < now - ACCOUNT_WINDOW:
            user.failed_logins = 0
        session.execute(
            update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1, last_failed_at=now)
        )
        session.refresh(user)
        if user.failed_logins >= ACCOUNT_MAX_FAILURES:
            user.locked_until, user.failed_logins = now + ACCOUNT_LOCK, 0
            audit.record(
                session,
                audit.Actor("system", "login"),
                audit.Change("user.locked", "user", user.id, None, {"until": user.locked_until}),
            )


def authenticate(
    session: Session, email: str, password: str, source: str = "-", now: dt.datetime | None = None
) -> User:
    """Check a log-in from ``source`` (the client address).

    Five failures from one address lock that address out of that account for 15 minutes;
    a guessing attacker therefore locks out only themselves. Thirty failures from anywhere
    within 15 minutes (a distributed guess) pause the account for 5 minutes: enough to
    stop guessing, short enough that no one can keep its owner out for long. The caller
    commits even on failure, so that the counts are kept. Raises LoginRefused.
    """
    now = now or utcnow()
    email = email.strip().lower()[:254]
    source = (source or "-")[:64]
    throttle = _throttle(session, email, source)
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        verify_no_one(password)  # a locked account costs what a wrong password costs
        raise LoginRefused(locked=True)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        verify_no_one(password)  # the same cost as a real check: the time does not tell
        _count_failure(session, email, source, None, now)
        raise LoginRefused()
    if user.locked_until is not None and user.locked_until > now:
        verify_no_one(password)
        raise LoginRefused(locked=True)
    if not user.active or not verify_password(user.password_hash, password):
        _count_failure(session, email, source, user, now)
        raise LoginRefused()
    if throttle is not None:
        session.delete(throttle)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user
