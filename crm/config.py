"""The one place that reads the environment.

Every setting the app, the command line and the scheduler use is read here, once, into a
plain ``Settings`` object, so that nothing else calls ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("CRM_INSTANCE_DIR", PROJECT_ROOT / "instance"))
DEFAULT_DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'crm.sqlite3'}"
# Uploaded CSV files waiting for their import job (the web and the scheduler share it).
UPLOAD_DIR = INSTANCE_DIR / "imports"
DEVELOPMENT_ENVS = ("development", "test")
STRONG_PASSWORD_HASH = "scrypt:32768:8:1"  # Werkzeug's scrypt default; crm.auth.passwords.STRONG
# Tests only: a cost of nothing, so that the suite's thousands of users are not each 0.1 s of
# scrypt. Never chosen by any other environment, and not settable from outside.
TEST_PASSWORD_HASH = "scrypt:256:8:1"


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    secret_key: str
    timezone: str = "Asia/Shanghai"
    tier_policy_file: str | None = None
    recalc_cron: str = "0 2 * * *"
    recalc_workers: int | None = None  # None: one per core (crm.jobs.passes.MAX_WORKERS at most)
    default_locale: str = "en"
    behind_proxy: bool = False
    # The largest CSV the upload page accepts (MiB); the stored file of a queued import too.
    max_upload_mb: int = 200
    # A job (a tier run, an import) whose heartbeat is older than this is dead: its slot is freed.
    job_stale_seconds: int = 60
    # How long a partner API request waits for SQLite's write lock (or a PostgreSQL row lock)
    # before it answers 503 with Retry-After.
    api_lock_wait_seconds: int = 3
    password_hash: str = STRONG_PASSWORD_HASH  # Werkzeug method for new password hashes
    proxy_hops: int = 1  # reverse proxies in front of the app whose X-Forwarded-* are trusted
    ratelimit_storage_uri: str = "memory://"  # redis://127.0.0.1:6379 in production
    ratelimit_key_prefix: str = "crm"
    extra: dict = field(default_factory=dict)

    @property
    def is_development(self) -> bool:
        return self.env in DEVELOPMENT_ENVS


def _positive_int(name: str, override: int | None) -> int | None:
    value = override if override is not None else os.environ.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1 (it is {value!r})")
    return number


def _development_secret() -> str:
    """A per-checkout random key for development, kept in instance/ (never in the repo)."""
    path = INSTANCE_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def business_timezone_name() -> str:
    """CRM_TIMEZONE: the zone of business dates and of the times shown (default Asia/Shanghai)."""
    return os.environ.get("CRM_TIMEZONE", "Asia/Shanghai")


def load_settings(overrides: dict | None = None) -> Settings:
    """Read the settings from the environment, with ``overrides`` (tests) taking precedence.

    Raises ConfigError when SECRET_KEY is missing outside development and tests.
    """
    overrides = dict(overrides or {})
    env = overrides.pop("env", None) or os.environ.get("CRM_ENV", "production")
    secret = overrides.pop("secret_key", None) or os.environ.get("SECRET_KEY")
    if not secret:
        if env not in DEVELOPMENT_ENVS:
            raise ConfigError(
                "SECRET_KEY is not set; set it (e.g. `python -c 'import secrets; "
                "print(secrets.token_hex(32))'`) or run with CRM_ENV=development"
            )
        secret = _development_secret() if env == "development" else secrets.token_hex(32)
    return Settings(
        env=env,
        database_url=overrides.pop("database_url", None) or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        secret_key=secret,
        timezone=overrides.pop("timezone", None) or business_timezone_name(),
        tier_policy_file=overrides.pop("tier_policy_file", None) or os.environ.get("CRM_TIER_POLICY_FILE"),
        recalc_cron=overrides.pop("recalc_cron", None) or os.environ.get("CRM_RECALC_CRON", "0 2 * * *"),
        recalc_workers=_positive_int("CRM_RECALC_WORKERS", overrides.pop("recalc_workers", None)),
        default_locale=overrides.pop("default_locale", None) or os.environ.get("CRM_DEFAULT_LOCALE", "en"),
        behind_proxy=bool(overrides.pop("behind_proxy", None) or os.environ.get("CRM_BEHIND_PROXY") == "1"),
        max_upload_mb=_positive_int("CRM_MAX_UPLOAD_MB", overrides.pop("max_upload_mb", None)) or 200,
        job_stale_seconds=_positive_int("CRM_JOB_STALE_SECONDS", overrides.pop("job_stale_seconds", None)) or 60,
        api_lock_wait_seconds=_positive_int("CRM_API_LOCK_WAIT_SECONDS", overrides.pop("api_lock_wait_seconds", None))
        or 3,
        password_hash=TEST_PASSWORD_HASH if env == "test" else STRONG_PASSWORD_HASH,
        proxy_hops=_positive_int("CRM_PROXY_HOPS", overrides.pop("proxy_hops", None)) or 1,
        ratelimit_storage_uri=overrides.pop("ratelimit_storage_uri", None)
        or os.environ.get("CRM_RATELIMIT_STORAGE_URI", "memory://"),
        ratelimit_key_prefix=overrides.pop("ratelimit_key_prefix", None)
        or os.environ.get("CRM_RATELIMIT_KEY_PREFIX", "crm"),
        extra=overrides,
    )
