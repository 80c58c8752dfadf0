"""The ledger's tables (SQLAlchemy Core metadata); the schema itself exists only via Alembic.

Amounts are BIGINT units with CHECKs; balances carry the flags their CHECKs need so the database
itself refuses an overdraft of a non-negative account, whatever code writes to it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
    text,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# SQLite has no 64-bit autoincrement other than INTEGER PRIMARY KEY (which is 64-bit there).
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC instants on both databases (SQLite stores sortable ISO text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert value.tzinfo is not None, f"naive datetime {value!r}"
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


PENDING_ONLY = text("status = 'pending'")

instruments = Table(
    "instruments",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("unit", String(32), nullable=False),
    Column("scale", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("scale BETWEEN 0 AND 9", name="scale"),
    CheckConstraint(
        "kind IN ('cash', 'emission_right', 'carbon_allowance', 'offset')", name="kind"
    ),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("party", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("normal_side", String(6), nullable=False),
    Column("non_negative", Boolean, nullable=False),
    Column("instrument_code", String(32), ForeignKey("instruments.code", ondelete="RESTRICT")),
    Column("frozen", Boolean, nullable=False),
    Column("closed", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("normal_side IN ('debit', 'credit')", name="normal_side"),
)

balances = Table(
    "balances",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="RESTRICT"), primary_key=True),
    Column(
        "instrument_code",
        String(32),
        ForeignKey("instruments.code", ondelete="RESTRICT"),
        primary_key=True,
    ),
    # Copied from the account when the row is created (both are fixed at opening), so that the
    # non-negative CHECK below needs no join.
    Column("normal_side", String(6), nullable=False),
    Column("non_negative", Boolean, nullable=False),
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
    Column("debits_pending", BigInteger, nullable=False),
    Column("credits_pending", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 "
        "AND credits_pending >= 0",
        name="counters_not_negative",
    ),
    CheckConstraint(
        "NOT non_negative"
        " OR (normal_side = 'debit' AND debits_posted - credits_posted - credits_pending >= 0)"
        " OR (normal_side = 'credit' AND credits_posted - debits_posted - debits_pending >= 0)",
        name="non_negative",
    ),
)

entries = Table(
    "entries",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("entry_id", String(64), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("entry_type", String(64), nullable=False),
    Column("status", String(8), nullable=False),
    Column("effective_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("memo", String(500), nullable=False),
    Column("metadata", JSON, nullable=False),
    # A reversal points at what it reverses, a post/void/expiry at the pending entry it
    # resolves; UNIQUE makes "at most once" a database fact.
    Column("reverses_seq", Id, ForeignKey("entries.seq", ondelete="RESTRICT"), unique=True),
    Column("pending_seq", Id, ForeignKey("entries.seq", ondelete="RESTRICT"), unique=True),
    Column("expires_at", UtcDateTime),
    CheckConstraint("status IN ('posted', 'pending', 'voided', 'expired')", name="status"),
    CheckConstraint(
        "status NOT IN ('voided', 'expired') OR pending_seq IS NOT NULL", name="resolves_pending"
    ),
    Index(
        "ix_entries_pending_expiry",
        "expires_at",
        postgresql_where=PENDING_ONLY,
        sqlite_where=PENDING_ONLY,
    ),
)

entry_references = Table(
    "entry_references",
    metadata,
    Column("entry_seq", Id, ForeignKey("entries.seq", ondelete="RESTRICT"), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("reference", String(128), primary_key=True),
    Index("ix_entry_references_kind_reference", "kind", "reference"),
)

postings = Table(
    "postings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "entry_seq",
        Id,
        ForeignKey("entries.seq", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="RESTRICT"), nullable=False),
    Column(
        "instrument_code",
        String(32),
        ForeignKey("instruments.code", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("side", String(6), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("pending", Boolean, nullable=False),
    # Copies of the entry's instants so the per-account indexes answer as-of queries alone.
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("effective_at", UtcDateTime, nullable=False),
    # Posted counters of the (account, instrument) balance right after this posting: an as-of
    # balance is one index probe, not a sum. NULL for pending postings.
    Column("debits_after", BigInteger),
    Column("credits_after", BigInteger),
    CheckConstraint("side IN ('debit', 'credit')", name="side"),
    CheckConstraint("units > 0", name="units_positive"),
    CheckConstraint(
        "pending OR (debits_after IS NOT NULL AND credits_after IS NOT NULL)",
        name="running_balance",
    ),
    Index("ix_postings_account_recorded", "account_id", "instrument_code", "recorded_at", "id"),
    Index("ix_postings_account_effective", "account_id", "instrument_code", "effective_at"),
)

# -- tamper evidence (migration 0003) ---------------------------------------------------------
# Entries chained by hash in sealing order: chain_seq is gap-free 1, 2, 3…, never the entry's seq
# (an autoincrement with gaps, and committed out of order). Appended to only, by the sealer.

journal_chain = Table(
    "journal_chain",
    metadata,
    Column("chain_seq", Id, primary_key=True, autoincrement=False),
    Column(
        "entry_seq",
        Id,
        ForeignKey("entries.seq", ondelete="RESTRICT"),
        nullable=False,
        unique=True,
    ),
    Column("previous_hash", CHAR(64), nullable=False),
    Column("hash", CHAR(64), nullable=False),
    Column("sealed_at", UtcDateTime, nullable=False),
    CheckConstraint("chain_seq >= 1", name="chain_seq_positive"),
)

# -- the registry's business records (migration 0002) ------------------------------------------
# These may be updated (a trade's state, a pledge's release); `trade_events` is their history,
# appended to only. Journal entries reference them by id.

parties = Table(
    "parties",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("credit_code", String(32), nullable=False),
    Column("city", String(64), nullable=False),
    Column("county", String(64), nullable=False),
    Column("tax_tier", Integer),
    Column("industry", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("kind IN ('enterprise', 'authority', 'exchange')", name="kind"),
)

outlets = Table(
    "outlets",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("outlet_code", String(64), nullable=False),
    Column("standards", JSON, nullable=False),
    Column("reference_o2", String(16)),
    UniqueConstraint("party_code", "outlet_code"),
)

cities = Table(
    "cities",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("may_receive_air_rights", Boolean, nullable=False),
    Column("basin", String(64), nullable=False),
)

policies = Table(
    "policies",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", JSON, nullable=False),
)

entitlements = Table(
    "entitlements",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("pollutant", String(16), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("first_vintage", Integer, nullable=False),
    Column("last_vintage", Integer, nullable=False),
    Column("permit", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("units > 0", name="units_positive"),
)

pledges = Table(
    "pledges",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("pollutant", String(16), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("holder", String(200), nullable=False),
    Column("first_vintage", Integer, nullable=False),
    Column("last_vintage", Integer, nullable=False),
    Column("released", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("units > 0", name="units_positive"),
)

trades = Table(
    "trades",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(48), nullable=False, unique=True),
    Column("seller", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False),
    Column("buyer", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False),
    Column("proposer", String(32), nullable=False),
    Column("family", String(16), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("first_vintage", Integer),
    Column("last_vintage", Integer),
    Column("trade_date", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("mode", String(64), nullable=False),
    Column("zero_price_reason", String(500), nullable=False),
    Column("expires_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("units > 0", name="units_positive"),
    CheckConstraint("price_fen >= 0", name="price_not_negative"),
    CheckConstraint(
        "state IN ('proposed', 'accepted', 'settled', 'declined', 'rescinded', 'refused', "
        "'expired')",
        name="state",
    ),
)

trade_events = Table(
    "trade_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("trade_id", String(48), ForeignKey("trades.id", ondelete="RESTRICT"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("actor", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("note", String(500), nullable=False),
    Index("ix_trade_events_trade_id", "trade_id"),
)

obligations = Table(
    "obligations",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(48), nullable=False, unique=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("period", Integer, nullable=False),
    Column("verified_units", BigInteger, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("closed", Boolean, nullable=False),
    Column("penalty_fen", BigInteger, nullable=False),
    Column("deduction_units", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

surrenders = Table(
    "surrenders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "obligation_id",
        String(48),
        ForeignKey("obligations.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("instrument_code", String(32), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_surrenders_obligation_id", "obligation_id"),
)
