"""Settings from the environment (`LEDGER_*`); SQLite in the working directory by default."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///emissions-ledger.db"
FOUR_EYES_DEFAULT = frozenset({"allocation", "cancellation", "confiscation", "reversal"})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the process is configured with; built once at start-up."""

    database_url: str = DEFAULT_DATABASE_URL
    # SQLite only: FULL survives power loss, NORMAL only process crashes (WAL either way).
    sqlite_synchronous: str = "FULL"
    expiry_sweep_seconds: float = 5.0  # a duration between sweeps; no amount is ever a float
    # Operations that need a second principal's approval (four-eyes), and the allocation size
    # (t/a) above which an allocation is one of them. LEDGER_FOUR_EYES="" turns them all off.
    four_eyes: frozenset[str] = FOUR_EYES_DEFAULT
    four_eyes_allocation_t: Decimal = Decimal(1000)
    # Checkpoints of the hash chains: the directory the server exports one to every
    # `checkpoint_seconds` (None: none exported; keep it where the database's administrators
    # cannot write), and the key they are signed with (HMAC-SHA256; None: hashed only).
    checkpoint_dir: Path | None = None
    checkpoint_seconds: float = 3600.0
    checkpoint_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            database_url=os.environ.get("LEDGER_DATABASE_URL", DEFAULT_DATABASE_URL),
            sqlite_synchronous=os.environ.get("LEDGER_SQLITE_SYNCHRONOUS", "FULL").upper(),
            expiry_sweep_seconds=float(os.environ.get("LEDGER_EXPIRY_SWEEP_SECONDS", "5")),
            four_eyes=_names(os.environ.get("LEDGER_FOUR_EYES"), FOUR_EYES_DEFAULT),
            four_eyes_allocation_t=Decimal(os.environ.get("LEDGER_FOUR_EYES_ALLOCATION_T", "1000")),
            checkpoint_dir=_path(os.environ.get("LEDGER_CHECKPOINT_DIR")),
            checkpoint_seconds=float(os.environ.get("LEDGER_CHECKPOINT_SECONDS", "3600")),
            checkpoint_key=_secret(os.environ.get("LEDGER_CHECKPOINT_KEY")),
        )


def _names(value: str | None, default: frozenset[str]) -> frozenset[str]:
    if value is None:
        return default
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _secret(value: str | None) -> bytes | None:
    return value.encode() if value else None
