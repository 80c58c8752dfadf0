"""Settings from the environment (`LEDGER_*`), typed and checked once at start-up.

`Settings.from_environment()` reads every variable and refuses the whole set with a
`SettingsError` that names each wrong variable and says what is wrong with it (never its value
when it may hold a password). SQLite in the working directory is the default database.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from limits import parse_many
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ledger.domain.access import FourEyesPolicy

ENV_PREFIX = "LEDGER_"
DEFAULT_DATABASE_URL = "sqlite:///emissions-ledger.db"
# Operations whose four-eyes the operator may turn off (docs/concepts/authority.md); an
# enrolment and a period's reopening need four eyes whatever is configured.
FourEyesOperation = Literal[
    "allocation",
    "buy_back",
    "cancellation",
    "confiscation",
    "reversal",
    "adjustment",
    "penalty",
    "obligation_close",
    "permit",
    "tax_incentive",
]
# On by default: every one of them.
FOUR_EYES_DEFAULT: frozenset[FourEyesOperation] = frozenset(get_args(FourEyesOperation))
DATABASE_SCHEMES = ("sqlite", "postgresql")
SECRET_FIELDS = frozenset({"database_url", "checkpoint_key"})  # never shown in an error


class SettingsError(ValueError):
    """Some `LEDGER_*` variables are wrong: the message names each one, one per line."""


class Settings(BaseSettings):
    """Everything the process is configured with; built once at start-up."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the ledger's database: sqlite:///FILE or "
        "postgresql://USER@HOST:PORT/DATABASE.",
        repr=False,  # it may hold a password
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL",
        description="SQLite only: FULL survives power loss, NORMAL only process crashes "
        "(WAL either way).",
    )
    expiry_sweep_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="Seconds between two rounds of the background sweeper (sealing, expiries); "
        "a duration, never an amount.",
    )
    sweeper_thread: bool = Field(
        True,
        description="Whether each server process runs a sweeper thread; false when "
        "`emissions-ledger sweep` runs the sweeper as a process of its own.",
    )
    four_eyes: Annotated[frozenset[FourEyesOperation], NoDecode] = Field(
        FOUR_EYES_DEFAULT,
        description="Comma-separated operations that need a second principal's approval; "
        "empty turns four-eyes off.",
    )
    four_eyes_allocation_t: Decimal = Field(
        Decimal(1000),
        ge=0,
        description="An allocation needs four eyes only above this size (t/a).",
    )
    failed_auth_limit: str = Field(
        "20/minute",
        description="Failed authentications a source address may make before it is answered "
        "429 (the limits library's notation; several separated by ';').",
    )
    request_limit: str = Field(
        "6000/minute", description="Requests a principal may make before it is answered 429."
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where the rate counters live: memory:// (per process) or a shared "
        "redis://HOST:PORT (with the redis package installed).",
    )
    # Checkpoints of the hash chains (docs/how-to/checkpoints.md).
    checkpoint_dir: Path | None = Field(
        None,
        description="Where the server exports a checkpoint every LEDGER_CHECKPOINT_SECONDS (unset: "
        "none exported); keep it where the database's administrators cannot write.",
    )
    checkpoint_seconds: float = Field(
        3600.0, gt=0, description="Seconds between two checkpoints exported by the server."
    )
    checkpoint_key: bytes | None = Field(
        None,
        repr=False,  # a secret
        description="The key checkpoints are signed with (HMAC-SHA256; unset: hashed only).",
    )
    console_idle_minutes: float = Field(
        30.0,
        gt=0,
        le=24 * 60,
        description="Minutes a web console session may stay unused before it signs out.",
    )
    log_format: Literal["auto", "text", "json"] = Field(
        "auto",
        description="text for a terminal, json (one object a line) for production; auto picks "
        "text when standard error is a terminal.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="The lowest level logged."
    )

    def four_eyes_policy(self) -> FourEyesPolicy:
        """The four-eyes configuration the services read (`Store.four_eyes`)."""
        return FourEyesPolicy(frozenset(self.four_eyes), self.four_eyes_allocation_t)

    @field_validator("failed_auth_limit", "request_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("a rate such as 20/minute (several separated by ';')") from None
        return value

    @classmethod
    def from_environment(cls) -> Settings:
        """The settings of the `LEDGER_*` variables; `SettingsError` naming every wrong one."""
        try:
            return cls()
        except ValidationError as error:
            raise SettingsError(explain(error)) from None

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        scheme = url.partition(":")[0].partition("+")[0]
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(f"the URL's scheme must be one of {', '.join(DATABASE_SCHEMES)}")
        return url

    @field_validator("sqlite_synchronous", "log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: Any, info: Any) -> Any:
        if not isinstance(value, str):
            return value
        return value.lower() if info.field_name == "log_format" else value.upper()

    @field_validator("checkpoint_dir", "checkpoint_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("four_eyes", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(name.strip() for name in value.split(",") if name.strip())
        return value


def explain(error: ValidationError) -> str:
    """One line per wrong variable: its name and what is wrong (its value unless secret)."""
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        shown = "" if field in SECRET_FIELDS else f" (got {problem['input']!r})"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{ENV_PREFIX}{field.upper()}: {message}{shown}")
    return "invalid settings:\n  " + "\n  ".join(lines)
