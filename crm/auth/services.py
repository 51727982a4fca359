"""Users: creation and authentication with a per-account lock-out kept in the database."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.auth.passwords import check_policy, hash_password, verify_password
from crm.db import utcnow
from crm.models import User
from crm.validators import ROLES

MAX_FAILURES = 5
LOCK_MINUTES = 15
# A hash of nothing in particular: checking against it costs what a real check costs, so
# the answer time does not reveal whether an e-mail address has an account.
_DUMMY_HASH = hash_password("not-a-real-password-x")


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


def create_user(session: Session, actor: audit.Actor, email: str, role: str, password: str,
                full_name: str = "", locale: str = "en", enforce_policy: bool = True) -> User:
    email = email.strip().lower()
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 254:
        raise UserError(f"{email!r} is not an e-mail address")
    if session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise UserError(f"a user {email} exists already")
    if enforce_policy:
        try:
            check_policy(password, email)
        except ValueError as exc:
            raise UserError(f"password refused: {exc}") from None
    user = User(email=email, role=role, password_hash=hash_password(password),
                full_name=full_name, locale=locale)
    session.add(user)
    session.flush()
    audit.record(session, actor, audit.Change("user.create", "user", user.id, None,
                                               {"email": email, "role": role, "full_name": full_name}))
    return user


class LoginRefused(Exception):
    """Wrong e-mail or password, or the account is locked; deliberately says no more."""

    def __init__(self, locked: bool = False):
        super().__init__("locked" if locked else "invalid")
        self.locked = locked


def authenticate(session: Session, email: str, password: str, now: dt.datetime | None = None) -> User:
    """Check a log-in; counts failures per account and locks it for a while after too many.

    The lock is temporary (``LOCK_MINUTES``), so an attacker who guesses e-mails can delay,
    but not permanently lock out, real users. Raises LoginRefused.
    """
    now = now or utcnow()
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        raise LoginRefused()
    if user.locked_until is not None and user.locked_until > now:
        raise LoginRefused(locked=True)
    if not user.active or not verify_password(user.password_hash, password):
        # Counted in the database (a single UPDATE) so that it holds across workers.
        session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
        session.refresh(user)
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
            audit.record(session, audit.Actor("system", "login"), audit.Change(
                "user.locked", "user", user.id, None, {"until": user.locked_until}))
        raise LoginRefused()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user
