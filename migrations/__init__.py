"""Alembic migrations: the only way the ledger's schema comes to exist."""
