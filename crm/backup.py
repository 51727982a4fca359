"""`crm db backup` / `crm db restore`: SQLite's online backup, pg_dump / pg_restore for PostgreSQL.

A restore is checked before it is trusted: the audit chain of the restored database is
verified, and the command fails if it does not verify.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """A backup or restore failed; the message says why."""


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as libpq understands it (pg_dump, pg_restore)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


def backup(url: str, target: str | Path) -> Path:
    """Write a consistent copy of the database to ``target`` while it stays in use."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        source = sqlite3.connect(_sqlite_path(url))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # page by page, consistent even with writers running
        finally:
            copy.close()
            source.close()
        return target
    result = subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", _libpq(url)],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
    return target


def restore(url: str, source: str | Path) -> None:
    """Replace the database's content with the backup in ``source``."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    if url.startswith("sqlite"):
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            if backup_db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} is damaged (integrity check failed)")
            live = sqlite3.connect(_sqlite_path(url))
            try:
                backup_db.backup(live)
            finally:
                live.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not a SQLite backup ({exc})") from None
        finally:
            backup_db.close()
        return
    result = subprocess.run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={_libpq(url)}",
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()[:500]}")
