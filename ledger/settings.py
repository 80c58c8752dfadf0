"""Settings from the environment (`LEDGER_*`); SQLite in the working directory by default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal

from ledger.domain.access import FOUR_EYES_OPERATIONS, FourEyesPolicy

DEFAULT_DATABASE_URL = "sqlite:///emissions-ledger.db"
FOUR_EYES_DEFAULT = FOUR_EYES_OPERATIONS


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
    # Failed authentications per source address, and requests per principal, before a 429
    # (the `limits` library's notation; several limits separated by ';'), and where the
    # counters live (`memory://` per process, or a shared `redis://host:port`).
    failed_auth_limit: str = "20/minute"
    request_limit: str = "6000/minute"
    rate_limit_storage: str = "memory://"

    def four_eyes_policy(self) -> FourEyesPolicy:
        return FourEyesPolicy(self.four_eyes, self.four_eyes_allocation_t)

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            database_url=os.environ.get("LEDGER_DATABASE_URL", DEFAULT_DATABASE_URL),
            sqlite_synchronous=os.environ.get("LEDGER_SQLITE_SYNCHRONOUS", "FULL").upper(),
            expiry_sweep_seconds=float(os.environ.get("LEDGER_EXPIRY_SWEEP_SECONDS", "5")),
            four_eyes=_names(os.environ.get("LEDGER_FOUR_EYES"), FOUR_EYES_DEFAULT),
            four_eyes_allocation_t=Decimal(os.environ.get("LEDGER_FOUR_EYES_ALLOCATION_T", "1000")),
            failed_auth_limit=os.environ.get("LEDGER_FAILED_AUTH_LIMIT", "20/minute"),
            request_limit=os.environ.get("LEDGER_REQUEST_LIMIT", "6000/minute"),
            rate_limit_storage=os.environ.get("LEDGER_RATE_LIMIT_STORAGE", "memory://"),
        )


def _names(value: str | None, default: frozenset[str]) -> frozenset[str]:
    if value is None:
        return default
    return frozenset(name.strip() for name in value.split(",") if name.strip())
