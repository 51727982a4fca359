"""Server-side sessions: the cookie carries a random id; the session's contents live in the
``user_sessions`` table (crm.models.UserSession), so that ending a session (log-out, a
password change, a deactivation, an admin) is deleting its row, and a copied cookie dies
with it.

Why one table of our own rather than Flask-Session: its SQLAlchemy backend needs a
Flask-SQLAlchemy instance (we have our own Database layer, crm/db.py), creates its table
outside our migrations, commits through the request's own session (committing whatever a
view left uncommitted), and keeps no user id, address or browser beside the data, which the
admin's list of a user's sessions needs.

The rows are read and written on a connection of their own, never through the request's
ORM session, so that saving a session commits nothing a view did not commit itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from flask import g
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CallbackDict

from crm.db import get_db, utcnow
from crm.models import UserSession

# A row not written for this long is of no use to anyone (the absolute limit of a logged-in
# session is 12 hours, crm/auth/sessions.py): it is no longer read, and deleted when a new
# session is stored.
STALE_AFTER = dt.timedelta(hours=12)
_SERIALIZER = TaggedJSONSerializer()
_log = logging.getLogger(__name__)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ServerSession(CallbackDict, SessionMixin):
    """The session's contents, and which stored row (if any) they came from."""

    def __init__(self, initial=None, row_id: int | None = None, token: str | None = None):
        def on_update(session):
            session.modified = True

        super().__init__(initial, on_update)
        self.row_id = row_id
        self.token = token  # the cookie's value (only the browser and this object know it)
        self.new = row_id is None
        self.modified = False
        self.renewed = False
        self.unavailable: Exception | None = None  # the store could not be read (check() raises it)

    def renew(self) -> None:
        """End the stored session and go on under a new id (log-in, log-out): a cookie copied
        before no longer opens anything."""
        self.renewed = True
        self.modified = True


class ServerSessionInterface(SessionInterface):
    """Flask's session interface over ``user_sessions``. Requests under ``api_prefix`` (the
    partner API authenticates by bearer key) get an empty read-only session: no cookie read,
    no row written."""

    serializer = _SERIALIZER

    def __init__(self, api_prefix: str = "/api/"):
        self.api_prefix = api_prefix

    def open_session(self, app, request):
        if request.path.startswith(self.api_prefix):
            return self.make_null_session(app)
        token = request.cookies.get(self.get_cookie_name(app), "")
        if not token or len(token) > 100:
            return ServerSession()
        try:
            with get_db().engine.connect() as conn:
                row = conn.execute(
                    select(UserSession.id, UserSession.data).where(
                        UserSession.token_hash == token_hash(token), UserSession.last_seen_at > utcnow() - STALE_AFTER
                    )
                ).first()
        except SQLAlchemyError as exc:
            # Not here: an error while the request is opened gets no error page of ours. The
            # session check raises it (crm/auth/sessions.py), and the database's 503 answers.
            session = ServerSession()
            session.unavailable = exc
            return session
        if row is None:
            return ServerSession()
        try:
            data = self.serializer.loads(row.data)
        except ValueError:
            data = {}
        return ServerSession(data, row_id=row.id, token=token)

    def save_session(self, app, session, response):
        if not isinstance(session, ServerSession) or not session.modified or session.unavailable:
            return
        try:
            self._store(app, session, response)
        except SQLAlchemyError as exc:
            # The answer is made (a 503 page, when the database is down): it goes out, without
            # a cookie; the browser keeps its old id.
            _log.warning("session not saved: %s", type(exc).__name__)

    def _store(self, app, session, response) -> None:
        name, domain, path = self.get_cookie_name(app), self.get_cookie_domain(app), self.get_cookie_path(app)
        _end_request_transaction()
        engine = get_db().engine
        with engine.begin() as conn:
            if session.row_id is not None and (session.renewed or not session):
                conn.execute(delete(UserSession).where(UserSession.id == session.row_id))
                session.row_id = None
            if not session:
                response.delete_cookie(name, domain=domain, path=path)
                return
            now = utcnow()
            values = dict(
                data=self.serializer.dumps(dict(session)),
                user_id=_user_id(session),
                last_seen_at=now,
                ip=_client_ip(),
                user_agent=_user_agent(),
            )
            if session.row_id is not None:
                conn.execute(update(UserSession).where(UserSession.id == session.row_id).values(**values))
            else:
                conn.execute(delete(UserSession).where(UserSession.last_seen_at < now - STALE_AFTER))
                session.token = secrets.token_urlsafe(32)
                session.row_id = conn.execute(
                    insert(UserSession).values(token_hash=token_hash(session.token), created_at=now, **values)
                ).inserted_primary_key[0]
        session.renewed = False
        # Sent again whenever the session changed, as Flask does: a permanent session's expiry
        # moves on.
        response.set_cookie(
            name,
            session.token,
            expires=self.get_expiration_time(app, session),
            httponly=self.get_cookie_httponly(app),
            domain=domain,
            path=path,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
        )
        response.vary.add("Cookie")


def _end_request_transaction() -> None:
    """The answer is made: whatever the request did not commit is rolled back now rather than
    at teardown. On SQLite a write request holds the database's write lock until then, and
    writing the session row on another connection would wait for it."""
    session = g.get("db_session")
    if session is not None:
        session.rollback()


def _user_id(session: ServerSession) -> int | None:
    value = session.get("_user_id")  # Flask-Login's key
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _client_ip() -> str:
    from flask import request

    return (request.remote_addr or "")[:64]


def _user_agent() -> str:
    from flask import request

    return (request.user_agent.string or "")[:255]
