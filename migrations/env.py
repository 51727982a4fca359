"""Alembic environment: the URL comes from crm.config (or the caller), models from crm.models
and partners.models (the partners register their tables on crm's Base)."""

from alembic import context
from sqlalchemy import pool

import crm.models  # noqa: F401  (registers crm's tables on Base.metadata)
import partners.models  # noqa: F401  (and the partners' tables)
from crm.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `crm db upgrade`")
run_migrations()
