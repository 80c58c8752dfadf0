"""Fixtures of the operations tests (settings, logging, server, metrics, migrations, init)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import fresh_database_url


@pytest.fixture
def sqlite_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated SQLite database (where the backend makes no difference)."""
    return fresh_database_url("sqlite", request, tmp_path)
