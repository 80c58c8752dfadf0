"""Settings from the environment (`LEDGER_*`); SQLite in the working directory by default."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///emissions-ledger.db"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the process is configured with; built once at start-up."""

    database_url: str = DEFAULT_DATABASE_URL
    # SQLite only: FULL survives power loss, NORMAL only process crashes (WAL either way).
    sqlite_synchronous: str = "FULL"
    expiry_sweep_seconds: float = 5.0

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            database_url=os.environ.get("LEDGER_DATABASE_URL", DEFAULT_DATABASE_URL),
            sqlite_synchronous=os.environ.get("LEDGER_SQLITE_SYNCHRONOUS", "FULL").upper(),
            expiry_sweep_seconds=float(os.environ.get("LEDGER_EXPIRY_SWEEP_SECONDS", "5")),
        )
