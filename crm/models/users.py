"""Staff and partner users, with their role and log-in state."""
from __future__ import annotations

import datetime as dt

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, String, UniqueConstraint
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
