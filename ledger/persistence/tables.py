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
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
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

# Where each chain ends, as its sealer left it (migration 0008): sealers lock the row to append.
chain_heads = Table(
    "chain_heads",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("length", BigInteger, nullable=False),
    Column("hash", CHAR(64), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("sealed_at", UtcDateTime),
    CheckConstraint("length >= 0", name="length_not_negative"),
)

# The business records' chains (migration 0010): versions of records sealed by key and digest,
# and the changes waiting to be sealed (written by triggers on the chained tables, drained by
# the sealer).
record_chain = Table(
    "record_chain",
    metadata,
    Column("chain", String(32), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("record_key", String(200), nullable=False),
    Column("digest", CHAR(64), nullable=False),
    Column("previous_hash", CHAR(64), nullable=False),
    Column("hash", CHAR(64), nullable=False),
    Column("sealed_at", UtcDateTime, nullable=False),
    CheckConstraint("seq >= 1", name="seq_positive"),
    Index("ix_record_chain_chain_record_key", "chain", "record_key", "seq"),
)

record_changes = Table(
    "record_changes",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("chain", String(32), nullable=False),
    Column("record_key", String(200), nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    Index("ix_record_changes_chain_record_key", "chain", "record_key"),
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
    UniqueConstraint("party_code", "outlet_code"),
)

# An outlet's permits (rules.md §7.4): standards, reference O2, removal efficiencies and CEMS
# obligation, set by a regulator, each in force from its month until the next one. Append-only.
outlet_permits = Table(
    "outlet_permits",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("party_code", String(32), nullable=False),
    Column("outlet_code", String(64), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("standards", JSON, nullable=False),  # measured pollutant → limit (decimal text)
    Column("reference_o2", String(16)),
    Column("removal_efficiencies", JSON, nullable=False),  # measured pollutant → η (text)
    Column("cems_required", Boolean, nullable=False),
    Column("reference", String(64), nullable=False),
    Column("set_by", String(40), nullable=False),
    Column("set_at", UtcDateTime, nullable=False),
    # What measured PM is taxed as: 'soot' or 'general_dust' (0030; 'soot' before).
    Column("particulate", String(16), nullable=False, server_default="soot"),
    ForeignKeyConstraint(
        ["party_code", "outlet_code"],
        ["outlets.party_code", "outlets.outlet_code"],
        ondelete="RESTRICT",
    ),
    UniqueConstraint("party_code", "outlet_code", "effective_from"),
)

# Penalty-basis events (rules.md §7.3): recorded by a regulator with their evidence; the tax of
# the months they touch is computed on the generated amount, without reduction. Append-only.
penalty_basis_events = Table(
    "penalty_basis_events",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("party_code", String(32), nullable=False),
    Column("outlet_code", String(64), nullable=False),
    Column("reason", String(24), nullable=False),
    Column("first_month", Date, nullable=False),
    Column("last_month", Date, nullable=False),
    Column("evidence", String(500), nullable=False),
    Column("generated_kg", JSON, nullable=False),  # measured pollutant → kg a month (text)
    Column("recorded_by", String(40), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(
        ["party_code", "outlet_code"],
        ["outlets.party_code", "outlets.outlet_code"],
        ondelete="RESTRICT",
    ),
    CheckConstraint("last_month >= first_month", name="months_in_order"),
    Index("ix_penalty_basis_events_party_code", "party_code"),
)

cities = Table(
    "cities",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("basin", String(64), nullable=False),
)

# Whether a city may receive air-pollutant rights, decided per year (migration 0020).
city_years = Table(
    "city_years",
    metadata,
    Column("city", String(64), ForeignKey("cities.name", ondelete="RESTRICT"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("may_receive_air_rights", Boolean, nullable=False),
    Column("basis", String(200), nullable=False),
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
    # free (allocated) or paid (paid use), migration 0021: decides reclaim or buy-back
    Column("acquisition", String(8), nullable=False, server_default="free"),
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

# A regulator's block on a party (enforcement) or its rights (leasing, unclear title), from a
# business date until lifted (migration 0021). Lifting updates the row; the chain keeps both.
# `set_by_city` (migration 0025): the city of the authority that set it, NULL for the province
# (and for every block set before 0025); it decides who may lift it.
trading_blocks = Table(
    "trading_blocks",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("kind", String(16), nullable=False),
    Column("pollutant", String(16), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("lifted_on", Date),
    Column("basis", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("set_by_city", String(64)),
    CheckConstraint("kind IN ('enforcement', 'leasing', 'unclear_title')", name="kind"),
    CheckConstraint("lifted_on IS NULL OR lifted_on >= effective_from", name="lifted_after"),
    Index("ix_trading_blocks_party_code", "party_code"),
)

# An authority's offer of reserve rights, fixed price or auction (migration 0022); its sale is
# the trade of the same id. Bids belong to it (a part of its chain).
listings = Table(
    "listings",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(48), nullable=False, unique=True),
    Column("seller", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False),
    Column("family", String(16), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("listing_date", Date, nullable=False),
    Column("first_vintage", Integer, nullable=False),
    Column("last_vintage", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("units > 0", name="units_positive"),
    CheckConstraint("price_fen > 0", name="price_positive"),
    CheckConstraint("mode IN ('fixed_price', 'auction')", name="mode"),
    CheckConstraint("state IN ('open', 'sold', 'unsold', 'withdrawn')", name="state"),
)

listing_bids = Table(
    "listing_bids",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "listing_id", String(48), ForeignKey("listings.id", ondelete="RESTRICT"), nullable=False
    ),
    Column("bidder", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("outcome", String(64), nullable=False),
    # The bidder's id of its bid (migration 0027), unique within the listing: a retry finds the
    # bid it made. None for a bid sent without one (and for bids made before 0027).
    Column("client_id", String(40)),
    Index("ix_listing_bids_listing_id", "listing_id"),
    Index("uq_listing_bids_listing_id_client_id", "listing_id", "client_id", unique=True),
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

# Rules §5: the enterprise's payments of a closed obligation's shortfall penalty (each one a
# `penalty_payment` entry from its cash to its penalties), chained on their own.
obligation_penalty_payments = Table(
    "obligation_penalty_payments",
    metadata,
    Column("id", String(48), primary_key=True),
    Column(
        "obligation_id",
        String(48),
        ForeignKey("obligations.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("amount_fen", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    Index("ix_obligation_penalty_payments_obligation_id", "obligation_id"),
)

# Rules §7.9: a closed obligation's shortfall deducted from later CEA allocations, one row per
# (allocation, obligation); the allocation's id is unique per obligation, so it is deducted once.
carbon_deductions = Table(
    "carbon_deductions",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(120), nullable=False, unique=True),
    Column(
        "obligation_id",
        String(48),
        ForeignKey("obligations.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("allocation_id", String(64), nullable=False),
    Column("year", Integer, nullable=False),
    Column("allocated_units", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("units > 0", name="units_positive"),
    Index("ix_carbon_deductions_obligation_id", "obligation_id"),
    Index("ix_carbon_deductions_allocation_id", "allocation_id"),
    Index("ix_carbon_deductions_party_code", "party_code"),
)

# Rules §7.10: a penalty a regulator books for a finding of a verified report (emissions above
# the rights held, or hourly exceedances), and the enterprise's payments of it.
rights_penalties = Table(
    "rights_penalties",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(48), nullable=False, unique=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("report_id", String(64), nullable=False),
    Column("pollutant", String(16), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("findings", String(64), nullable=False),
    Column("note", String(500), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    Index("ix_rights_penalties_party_code", "party_code"),
)

rights_penalty_payments = Table(
    "rights_penalty_payments",
    metadata,
    Column("id", String(48), primary_key=True),
    Column(
        "penalty_id",
        String(48),
        ForeignKey("rights_penalties.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("amount_fen", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    Index("ix_rights_penalty_payments_penalty_id", "penalty_id"),
)

# Rules §1.4, booked: an enterprise's tax years of the CIT equipment credit (each credit's use
# and lapse), and the retrofit projects whose income is exempt 3 years, then halved 3 years.
equipment_credit_years = Table(
    "equipment_credit_years",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(48), nullable=False, unique=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("year", Integer, nullable=False),
    Column("cit_payable_fen", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("cit_payable_fen >= 0", name="cit_payable_not_negative"),
    UniqueConstraint("party_code", "year"),
)

equipment_credit_moves = Table(
    "equipment_credit_moves",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "year_id",
        String(48),
        ForeignKey("equipment_credit_years.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("incentive_id", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    CheckConstraint("kind IN ('use', 'lapse')", name="kind"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    Index("ix_equipment_credit_moves_year_id", "year_id"),
    Index("ix_equipment_credit_moves_incentive_id", "incentive_id"),
)

retrofit_projects = Table(
    "retrofit_projects",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(48), nullable=False, unique=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("first_revenue_year", Integer, nullable=False),
    Column("description", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_retrofit_projects_party_code", "party_code"),
)

retrofit_project_years = Table(
    "retrofit_project_years",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "project_id",
        String(48),
        ForeignKey("retrofit_projects.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("year", Integer, nullable=False),
    Column("income_fen", BigInteger, nullable=False),
    Column("exempt_fen", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("project_id", "year"),
)

# --- Access control (issue "Who may do what"): principals, tokens, approvals, audit log. ---

ROLES = (
    "'regulator','city_authority','enterprise','verifier','finance','administrator','cems_network'"
)

principals = Table(
    "principals",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("role", String(16), nullable=False),
    Column("party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT")),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(40)),
    # The natural person behind the principal (a staff number, say): four-eyes compares people,
    # not principals, and an administrator's person holds no other role.
    Column("person", String(64), nullable=False),
    CheckConstraint(f"role IN ({ROLES})", name="role_known"),
    CheckConstraint("kind IN ('user','service')", name="kind_known"),
    CheckConstraint(
        "party_code IS NOT NULL OR role NOT IN ('enterprise','city_authority')",
        name="scoped_role_has_party",
    ),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(24), primary_key=True),
    Column(
        "principal_id",
        String(40),
        ForeignKey("principals.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("secret_hash", CHAR(64), nullable=False),
    Column("description", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Index("ix_api_tokens_principal_id", "principal_id"),
)

# One-time enrolment codes: a principal redeems one for its first (or a new) token. The code
# has two parts, one shown to the administrator who asked and one to the administrator who
# approved, so that no administrator alone ever holds a credential. Only its hash is stored.
enrolments = Table(
    "enrolments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "principal_id",
        String(40),
        ForeignKey("principals.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("code_hash", CHAR(64), nullable=False),
    Column("requested_by", String(40), nullable=False),
    Column("approved_by", String(40)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("redeemed_at", UtcDateTime),
    Index("ix_enrolments_principal_id", "principal_id"),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("operation", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("authority", String(40), nullable=False),
    Column("initiator", String(40), nullable=False),
    Column("initiator_person", String(64), nullable=False),
    Column("state", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("decided_by", String(40)),
    Column("decided_by_person", String(64)),
    Column("decided_at", UtcDateTime),
    Column("result", JSON),
    Column("reason", String(400)),
    CheckConstraint(
        "state IN ('pending','applied','rejected','expired','withdrawn')", name="state_known"
    ),
    # Four-eyes in the database: whoever decides is never the initiator, nor the same person.
    CheckConstraint("decided_by IS NULL OR decided_by <> initiator", name="four_eyes"),
    CheckConstraint(
        "decided_by_person IS NULL OR decided_by_person <> initiator_person",
        name="four_eyes_people",
    ),
    CheckConstraint("(state = 'pending') = (decided_at IS NULL)", name="decided_unless_pending"),
    Index("ix_approval_requests_state_authority", "state", "authority"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("principal_id", String(40)),
    Column("token_id", String(24)),
    Column("action", String(120), nullable=False),
    Column("target", String(400), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", Integer),  # the HTTP status, on the lines the API writes itself
    Column("code", String(64)),
    Column("request_id", String(64)),
    CheckConstraint(
        "outcome IN ('ok','rejected','denied','unauthenticated','pending','rate_limited')",
        name="outcome_known",
    ),
    Index("ix_audit_log_principal_id", "principal_id"),
)

# The web console's signed-in browsers (migration 0028), shared by every worker of a server. No
# secret is stored: the SHA-256 of the session's id (the cookie's value), and the id of the token
# it signed in with (every request re-authenticates that token; a revoked one ends the session).
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", CHAR(64), primary_key=True),
    Column(
        "token_id",
        String(24),
        ForeignKey("api_tokens.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("principal_id", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Index("ix_console_sessions_last_seen_at", "last_seen_at"),
)

# The web console's long work (migration 0029): a job runs in a thread of the worker that started
# it, and writes here what any worker shows of it; an export's file is kept as numbered chunks.
console_jobs = Table(
    "console_jobs",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("principal_id", String(40), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("what", String(200), nullable=False),
    Column("total", BigInteger),
    Column("done", BigInteger, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("beat_at", UtcDateTime, nullable=False),
    Column("outcome", Text),
    Column("failed", Boolean, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("media_type", String(100)),
    Column("size", BigInteger),
    CheckConstraint("kind IN ('import','export')", name="kind_known"),
    Index("ix_console_jobs_principal_id", "principal_id"),
)

console_job_chunks = Table(
    "console_job_chunks",
    metadata,
    Column("job_id", String(24), ForeignKey("console_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    PrimaryKeyConstraint("job_id", "seq", name="pk_console_job_chunks"),
)

# --- Finance (migration 0007): closed periods, outside statements and reconciliations. ---
# A trigger refuses entries effective in a closed period; imported statements never change;
# a confirmed reconciliation and its matches are frozen by trigger (both databases).

periods = Table(
    "periods",
    metadata,
    Column("label", String(8), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("state", String(8), nullable=False),
    Column("closed_by", String(40), nullable=False),
    Column("closed_at", UtcDateTime, nullable=False),
    Column("entries_at_close", BigInteger, nullable=False),
    Column("reopened_by", String(40)),
    Column("reopened_at", UtcDateTime),
    Column("reason", String(400), nullable=False),
    CheckConstraint("state IN ('closed', 'open')", name="state"),
    CheckConstraint("kind IN ('month', 'quarter', 'year')", name="kind"),
    CheckConstraint("starts_at < ends_at", name="range"),
    Index("ix_periods_state_starts_at", "state", "starts_at"),
)

period_events = Table(
    "period_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("label", String(8), ForeignKey("periods.label", ondelete="RESTRICT"), nullable=False),
    Column("action", String(8), nullable=False),
    Column("actor", String(40), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("reason", String(400), nullable=False),
    CheckConstraint("action IN ('close', 'reopen')", name="action"),
)

statement_imports = Table(
    "statement_imports",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_code", String(64), nullable=False),
    Column("source", String(8), nullable=False),
    Column("currency", String(32), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("sha256", CHAR(64), nullable=False, unique=True),
    Column("line_count", Integer, nullable=False),
    Column("first_date", Date, nullable=False),
    Column("last_date", Date, nullable=False),
    Column("imported_by", String(40), nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    CheckConstraint("source IN ('bank', 'exchange')", name="source"),
)

statement_lines = Table(
    "statement_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "import_id",
        String(40),
        ForeignKey("statement_imports.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("line_no", Integer, nullable=False),
    Column("booked_on", Date, nullable=False),
    Column("reference", String(128), nullable=False),
    # Signed fen from the account holder's view: + money in, − money out (an outside record,
    # not a posting; never zero).
    Column("amount_fen", BigInteger, nullable=False),
    Column("counterparty", String(200), nullable=False),
    Column("description", String(500), nullable=False),
    Column("fingerprint", CHAR(64), nullable=False, unique=True),
    CheckConstraint("amount_fen <> 0", name="amount_not_zero"),
    UniqueConstraint("import_id", "line_no"),
)

reconciliations = Table(
    "reconciliations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "import_id",
        String(40),
        ForeignKey("statement_imports.id", ondelete="RESTRICT"),
        nullable=False,
        unique=True,
    ),
    Column("account_code", String(64), nullable=False),
    Column("currency", String(32), nullable=False),
    Column("amount_tolerance_fen", BigInteger, nullable=False),
    Column("date_tolerance_days", Integer, nullable=False),
    Column("window_start", Date, nullable=False),
    Column("window_end", Date, nullable=False),
    Column("state", String(10), nullable=False),
    Column("created_by", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("confirmed_by", String(40)),
    Column("confirmed_at", UtcDateTime),
    CheckConstraint("state IN ('open', 'confirmed')", name="state"),
    CheckConstraint("amount_tolerance_fen >= 0 AND date_tolerance_days >= 0", name="tolerance"),
    CheckConstraint("(state = 'confirmed') = (confirmed_by IS NOT NULL)", name="confirmed_by"),
)

reconciliation_matches = Table(
    "reconciliation_matches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "reconciliation_id",
        String(40),
        ForeignKey("reconciliations.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column("method", String(12), nullable=False),
    Column("difference_fen", BigInteger, nullable=False),
    Column("reason", String(400), nullable=False),
    Column("created_by", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("unmatched_by", String(40)),
    Column("unmatched_at", UtcDateTime),
    Column("unmatch_reason", String(400)),
    # The client's id of a manual match (migration 0009): a retry finds the match it made.
    Column("client_id", String(40)),
    CheckConstraint("method IN ('reference', 'amount_date', 'split', 'manual')", name="method"),
    Index(
        "uq_reconciliation_matches_reconciliation_id_client_id",
        "reconciliation_id",
        "client_id",
        unique=True,
    ),
)

reconciliation_match_items = Table(
    "reconciliation_match_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "match_id",
        Id,
        ForeignKey("reconciliation_matches.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column("statement_line_id", Id, ForeignKey("statement_lines.id", ondelete="RESTRICT")),
    Column("posting_id", Id, ForeignKey("postings.id", ondelete="RESTRICT")),
    CheckConstraint("(statement_line_id IS NULL) <> (posting_id IS NULL)", name="line_or_posting"),
)

# -- monitoring and emission reports (migration 0005) -----------------------------------------
# CEMS hours are stored raw (integer units, hour = whole hours since the epoch, UTC) and never
# changed: aggregates and reports can always be recomputed and audited from them. `cems_months`
# is a cache of their monthly aggregates, rewritten by each import that touches a month.
# Report lines may change only while their report is a draft; a verified report may only be
# superseded or invalidated (triggers on both databases, see the migration).

CEMS_FLAGS = "'N','F','M','C','D','P','T','S','B'"
REPORT_STATUSES = "'draft','submitted','verified','rejected','superseded','invalidated'"
REPORT_METHODS = "'cems','agency','coefficient','estimate'"

cems_imports = Table(
    "cems_imports",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("sha256", CHAR(64), nullable=False, unique=True),
    Column("source", String(200), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("inserted", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("imported_by", String(40), nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    # Monthly aggregates the import recomputed: a replay answers what the import answered.
    Column("months", Integer, nullable=False, server_default="0"),
)

cems_hours = Table(
    "cems_hours",
    metadata,
    Column("outlet_seq", Id, ForeignKey("outlets.seq", ondelete="RESTRICT"), primary_key=True),
    Column("pollutant", String(16), primary_key=True),
    Column("hour", BigInteger, primary_key=True, autoincrement=False),
    Column("concentration", BigInteger, nullable=False),  # 0.001 mg/Nm³
    Column("dry_flow", BigInteger, nullable=False),  # 0.01 Nm³/h
    Column("o2", Integer, nullable=False),  # 0.01 %
    Column("valid_minutes", Integer, nullable=False),
    Column("flag", CHAR(1), nullable=False),
    Column("import_seq", Id, ForeignKey("cems_imports.seq", ondelete="RESTRICT"), nullable=False),
    CheckConstraint("concentration >= 0 AND dry_flow >= 0", name="values_not_negative"),
    CheckConstraint("o2 >= 0 AND o2 < 2100", name="o2_below_ambient"),
    CheckConstraint("valid_minutes BETWEEN 0 AND 60", name="valid_minutes"),
    CheckConstraint(f"flag IN ({CEMS_FLAGS})", name="flag"),
    sqlite_with_rowid=False,
)

cems_months = Table(
    "cems_months",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("outlet_seq", Id, ForeignKey("outlets.seq", ondelete="RESTRICT"), nullable=False),
    Column("pollutant", String(16), nullable=False),
    Column("month", Date, nullable=False),
    Column("hours_received", Integer, nullable=False),
    Column("valid_hours", Integer, nullable=False),
    Column("valid_days", Integer, nullable=False),
    Column("valid_days_required", Integer, nullable=False),
    Column("month_valid", Boolean, nullable=False),
    Column("mass_kg", String(48), nullable=False),  # exact decimal text
    Column("mean_measured", Text),  # exact fraction text "p/q" (mg/Nm³)
    Column("mean_on_standard_basis", Text),  # exact fraction text, O2-corrected if the standard is
    Column("standard_mg", String(16)),
    Column("reference_o2", String(16)),
    Column("exceedances", Integer, nullable=False),
    Column("first_exceedance", UtcDateTime),
    Column("over_range_hours", Integer, nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    # rules §7.1–7.2 (migration 0015): substituted hours, {method: hours}, exceedance hours
    Column("substituted_hours", Integer, nullable=False, server_default="0"),
    Column("substitution", JSON),
    Column("exceedance_hours", JSON),
    UniqueConstraint("outlet_seq", "pollutant", "month"),
)

emission_reports = Table(
    "emission_reports",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(48), nullable=False, unique=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("period", String(8), nullable=False),
    Column("first_month", Date, nullable=False),
    Column("last_month", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column(
        "supersedes",
        String(48),
        ForeignKey("emission_reports.id", ondelete="RESTRICT"),
        unique=True,
    ),
    Column("status", String(12), nullable=False),
    Column("created_by", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("submitted_by", String(40)),
    Column("submitted_at", UtcDateTime),
    Column("decided_by", String(40)),
    Column("decided_at", UtcDateTime),
    Column("decision_note", String(500), nullable=False),
    Column("invalidated_by", String(40)),
    Column("invalidated_at", UtcDateTime),
    Column("invalidation_reason", String(500), nullable=False),
    CheckConstraint(f"status IN ({REPORT_STATUSES})", name="status"),
    CheckConstraint("version >= 1 AND (version = 1) = (supersedes IS NULL)", name="version"),
    # Four eyes in the database: whoever verifies or rejects is never the submitter.
    CheckConstraint("decided_by IS NULL OR decided_by <> submitted_by", name="four_eyes"),
    CheckConstraint(
        "status IN ('draft') OR submitted_by IS NOT NULL", name="submitted_unless_draft"
    ),
    UniqueConstraint("party_code", "period", "version"),
    Index("ix_emission_reports_party_code_first_month", "party_code", "first_month"),
)

emission_report_lines = Table(
    "emission_report_lines",
    metadata,
    Column(
        "report_id",
        String(48),
        ForeignKey("emission_reports.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("month", Date, nullable=False),
    Column("outlet_code", String(64), nullable=False),
    Column("pollutant", String(24), nullable=False),
    Column("measured_as", String(16), nullable=False),
    Column("method", String(12), nullable=False),
    Column("mass_kg", String(48), nullable=False),
    Column("mean_concentration", Text),
    Column("standard_mg", String(16)),
    Column("reference_o2", String(16)),
    Column("exceedances", Integer, nullable=False),
    Column("month_valid", Boolean, nullable=False),
    Column("valid_hours", Integer),
    Column("valid_days", Integer),
    # rules §7.1–7.2 (migration 0015), as on the monthly aggregate the line comes from
    Column("substituted_hours", Integer, nullable=False, server_default="0"),
    Column("substitution", JSON),
    Column("exceedance_hours", JSON),
    CheckConstraint(f"method IN ({REPORT_METHODS})", name="method"),
    CheckConstraint("exceedances >= 0", name="exceedances_not_negative"),
    UniqueConstraint("report_id", "month", "outlet_code", "pollutant"),
)

# -- environmental tax and incentives (migration 0006) ------------------------------------------
# Filed returns, their lines, incentive bases and incentives are append-only (triggers refuse
# UPDATE and DELETE); reversals and voids are their own append-only records. The database caps
# the active incentives on a basis at the basis (CHECK per row, trigger over the sum).

tax_returns = Table(
    "tax_returns",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(48), nullable=False, unique=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("year", Integer, nullable=False),
    Column("quarter", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("tier", Integer, nullable=False),
    Column("source", String(16), nullable=False),
    Column("policy", JSON, nullable=False),
    Column("report_ids", JSON, nullable=False),
    Column("total_before_fen", BigInteger, nullable=False),
    Column("total_due_fen", BigInteger, nullable=False),
    Column("total_reduction_fen", BigInteger, nullable=False),
    Column("supersedes", String(48)),
    Column("filed_by", String(40), nullable=False),
    Column("filed_at", UtcDateTime, nullable=False),
    UniqueConstraint("party_code", "year", "quarter", "version"),
    CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter"),
    CheckConstraint("total_due_fen >= 0 AND total_reduction_fen >= 0", name="not_negative"),
    CheckConstraint(
        "total_before_fen = total_due_fen + total_reduction_fen",
        name="before_is_due_plus_reduction",
    ),
)

tax_return_lines = Table(
    "tax_return_lines",
    metadata,
    Column(
        "return_id",
        String(48),
        ForeignKey("tax_returns.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("month", Date, nullable=False),
    Column("report_id", String(48)),  # the verified report the month's facts come from
    Column("outlet_code", String(64), nullable=False),
    Column("pollutant", String(24), nullable=False),
    Column("mass_kg", String(48), nullable=False),  # exact decimal text
    Column("equivalents", String(200), nullable=False),  # exact fraction text "n/d"
    Column("rank", Integer, nullable=False),
    Column("taxed", Boolean, nullable=False),
    Column("rate", String(16), nullable=False),
    Column("ratio", String(1000)),  # exact fraction text, None without mean or standard
    Column("factor", String(8), nullable=False),
    Column("disqualifications", JSON, nullable=False),
    Column("tax_before_fen", BigInteger, nullable=False),
    Column("tax_due_fen", BigInteger, nullable=False),
    CheckConstraint("tax_due_fen >= 0 AND tax_due_fen <= tax_before_fen", name="due_within"),
    UniqueConstraint("return_id", "month", "outlet_code", "pollutant"),
)

# Which scheme and tier each month of a return was taxed at (migration 0019); append-only.
tax_return_schedules = Table(
    "tax_return_schedules",
    metadata,
    Column("id", String(64), primary_key=True),  # "<return id>/<YYYY-MM>"
    Column(
        "return_id", String(48), ForeignKey("tax_returns.id", ondelete="RESTRICT"), nullable=False
    ),
    Column("month", Date, nullable=False),
    Column("scheme", String(32), nullable=False),
    Column("tier", String(16), nullable=False),
    UniqueConstraint("return_id", "month"),
)

# -- the tax tables as data (migration 0019) ---------------------------------------------------
# Effective-dated rates, equivalent values and tier memberships (rules.md §7.6): append-only;
# a later `valid_from`, or a later row for the same one, supersedes.

TAX_TABLE_SHAPES = (
    "(kind = 'rate' AND scheme IS NOT NULL AND tier IS NOT NULL AND category IS NOT NULL"
    " AND value IS NOT NULL)"
    " OR (kind = 'equivalent' AND pollutant IS NOT NULL AND value IS NOT NULL)"
    " OR (kind = 'membership' AND city IS NOT NULL AND county IS NOT NULL"
    " AND scheme IS NOT NULL AND tier IS NOT NULL)"
)

tax_table_entries = Table(
    "tax_table_entries",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("scheme", String(32)),
    Column("tier", String(16)),
    Column("category", String(16)),
    Column("pollutant", String(24)),
    Column("city", String(64)),
    Column("county", String(64)),
    Column("value", String(32)),  # exact decimal text: CNY per equivalent, or kg
    Column("recorded_by", String(40), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    CheckConstraint(TAX_TABLE_SHAPES, name="shape"),
)

incentive_bases = Table(
    "incentive_bases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(24), nullable=False),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("cap_fen", BigInteger, nullable=False),
    Column("return_id", String(48), ForeignKey("tax_returns.id", ondelete="RESTRICT")),
    Column("equipment_id", String(64)),
    Column("acquired_on", Date),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("cap_fen >= 0", name="cap_not_negative"),
    CheckConstraint("kind IN ('article13_reduction', 'equipment_credit')", name="kind"),
    # The target of incentives' composite foreign key: an incentive's basis_fen IS the cap.
    UniqueConstraint("id", "cap_fen"),
)

incentive_basis_reports = Table(
    "incentive_basis_reports",
    metadata,
    Column(
        "basis_id",
        String(64),
        ForeignKey("incentive_bases.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    Column(
        "report_id",
        String(48),
        ForeignKey("emission_reports.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    Index("ix_incentive_basis_reports_report_id", "report_id"),
)

incentive_basis_voids = Table(
    "incentive_basis_voids",
    metadata,
    Column(
        "basis_id",
        String(64),
        ForeignKey("incentive_bases.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    Column("report_id", String(48)),
    Column("reason", String(400), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

incentives = Table(
    "incentives",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("basis_id", String(64), nullable=False),
    Column("basis_fen", BigInteger, nullable=False),
    Column("kind", String(24), nullable=False),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("amount_fen", BigInteger, nullable=False),
    Column("entry_id", String(128), nullable=False),
    Column("booked_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(
        ["basis_id", "basis_fen"],
        ["incentive_bases.id", "incentive_bases.cap_fen"],
        ondelete="RESTRICT",
    ),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("amount_fen <= basis_fen", name="amount_within_basis"),
    Index("ix_incentives_basis_id", "basis_id"),
    Index("ix_incentives_party_code", "party_code"),
)

incentive_reversals = Table(
    "incentive_reversals",
    metadata,
    Column(
        "incentive_id",
        String(64),
        ForeignKey("incentives.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    Column("reason", String(24), nullable=False),
    Column("report_id", String(48)),
    Column("entry_id", String(128), nullable=False),
    Column("detail", String(400), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    CheckConstraint(
        "reason IN ('report_invalidated', 'clawback', 'report_corrected')", name="reason"
    ),
)

verified_reductions = Table(
    "verified_reductions",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column(
        "party_code", String(32), ForeignKey("parties.code", ondelete="RESTRICT"), nullable=False
    ),
    Column("pollutant", String(16), nullable=False),
    Column("year", Integer, nullable=False),
    Column("report_id", String(48), ForeignKey("emission_reports.id", ondelete="RESTRICT")),
    Column("baseline_kind", String(24), nullable=False),
    Column("baseline_kg", String(48), nullable=False),
    Column("baseline_hours", Integer, nullable=False),
    Column("actual_kg", String(48), nullable=False),
    Column("actual_hours", Integer, nullable=False),
    Column("reduction_kg", BigInteger, nullable=False),
    Column("released_units", BigInteger, nullable=False),
    Column("release", String(16), nullable=False),
    Column("entry_id", String(128)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("retrofit_month", Date),  # migration 0014: the CEMS baseline's window ends before it
    CheckConstraint("reduction_kg >= 0", name="reduction_not_negative"),
    # Surplus released never exceeds the verified reduction (t to the kg: units are kg).
    CheckConstraint(
        "released_units >= 0 AND released_units <= reduction_kg", name="release_within_reduction"
    ),
    CheckConstraint("release IN ('reserve', 'tradable', 'none')", name="release"),
    # One verified reduction per report and pollutant (rules §7.8; migration 0014).
    Index("ux_verified_reductions_report_id_pollutant", "report_id", "pollutant", unique=True),
)

# A verified reduction reversed with its report (migration 0014): append-only, one per reduction.
verified_reduction_reversals = Table(
    "verified_reduction_reversals",
    metadata,
    Column(
        "reduction_id",
        String(64),
        ForeignKey("verified_reductions.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    Column("reason", String(24), nullable=False),
    Column("report_id", String(48), nullable=False),
    Column("entry_id", String(128)),
    Column("restored_units", BigInteger, nullable=False),
    Column("unrestored_units", BigInteger, nullable=False),
    Column("detail", String(400), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    CheckConstraint("reason IN ('report_invalidated', 'report_corrected')", name="reason"),
    CheckConstraint("restored_units >= 0 AND unrestored_units >= 0", name="units_not_negative"),
)
