"""`alembic` works from the repository root (pyproject.toml's [tool.alembic]) on the database of
LEDGER_DATABASE_URL: an operator's upgrade, current, history and downgrade."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.test_migrations import (  # noqa: F401 - fixtures
    brand_new_postgres_url,
    brand_new_url,
)

ROOT = Path(__file__).resolve().parents[2]


def alembic(database_url: str, *arguments: str) -> str:
    """Run `alembic ARGUMENTS` in the repository root; its standard output."""
    env = dict(os.environ, LEDGER_DATABASE_URL=database_url, LEDGER_LOG_FORMAT="text")
    done = subprocess.run(
        [sys.executable, "-m", "alembic", *arguments],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_alembic_upgrades_reports_and_downgrades_from_the_repository_root(
    brand_new_url: str,  # noqa: F811 - the fixture
) -> None:
    never_migrated = brand_new_url
    head = alembic(never_migrated, "heads").split()[0]

    upgraded = alembic(never_migrated, "upgrade", "head")
    current = alembic(never_migrated, "current")
    alembic(never_migrated, "downgrade", "base")
    after_downgrade = alembic(never_migrated, "current")

    assert "Running upgrade  -> 0001" in upgraded  # alembic's progress, through our logging
    assert f"{head} (head)" in current
    assert head not in after_downgrade
