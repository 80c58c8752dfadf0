"""Alembic environment: imports only the table metadata, the settings and the logging setup.

Run from code (`ledger.persistence.migrate`), the database is the URL given; run as `alembic`
from the repository root (pyproject.toml's [tool.alembic]), it is `LEDGER_DATABASE_URL`, and the
ledger's logging shows alembic's progress.
"""

from __future__ import annotations

import logging

from alembic import context
from sqlalchemy import create_engine

from ledger import logs
from ledger.persistence.engine import normalize_url
from ledger.persistence.tables import metadata
from ledger.settings import Settings

config = context.config


def _url() -> str:
    if config.file_config.has_option(config.config_ini_section, "sqlalchemy.url"):
        return str(config.get_main_option("sqlalchemy.url"))
    settings = Settings.from_environment()
    if not logging.getLogger().handlers:  # the `alembic` command: nobody configured logging
        logs.configure(settings)
    return settings.database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # A plain engine: on SQLite that leaves foreign keys unenforced during migrations (SQLite's
    # default), which table rebuilds and dropping self-referencing tables both need.
    engine = create_engine(normalize_url(_url()))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
