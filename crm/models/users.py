"""Staff and partner users, with their role and log-in state."""

from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, utcnow
from crm.validators import ROLES


class User(UserMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('" + "','".join(ROLES) + "')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(10), default="en")
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)  # from any source, in the current window
    last_failed_at: Mapped[dt.datetime | None]
    locked_until: Mapped[dt.datetime | None]
    last_login_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class LoginThrottle(Base):
    """Failed log-ins for one account from one source address, and its lock.

    Locking (account, source) pairs rather than accounts means an attacker who guesses
    passwords locks out only their own address, not the account's owner.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (UniqueConstraint("email", "source", name="uq_login_throttles_email_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    source: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[dt.datetime]
    locked_until: Mapped[dt.datetime | None]


class UserSession(Base):
    """A browser's session, kept on the server: its cookie carries only a random id, of which
    this row keeps a SHA-256 hash (a copy of the table opens no session). Deleting the row
    ends the session: at log-out, at a password change, when the user is deactivated, or by
    an admin. Visitors not logged in have one too (the log-in form's CSRF token)."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        Index("ix_user_sessions_user_id", "user_id"),
        Index("ix_user_sessions_last_seen_at", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    data: Mapped[str] = mapped_column(Text)  # Flask's tagged JSON of the session's contents
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
