"""The registry: parties, outlets, cities, policies, entitlements, pledges, trades (with their
append-only history), obligations and surrenders.

These are the business records journal entries reference; they may be updated (a trade's state,
a pledge's release) while the journal itself stays immutable.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cities",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("may_receive_air_rights", sa.Boolean(), nullable=False),
        sa.Column("basin", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cities")),
    )
    op.create_table(
        "parties",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credit_code", sa.String(length=32), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("county", sa.String(length=64), nullable=False),
        sa.Column("tax_tier", sa.Integer(), nullable=True),
        sa.Column("industry", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('enterprise', 'authority', 'exchange')", name=op.f("ck_parties_kind")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_parties")),
        sa.UniqueConstraint("code", name=op.f("uq_parties_code")),
    )
    op.create_table(
        "policies",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_policies")),
    )
    op.create_table(
        "entitlements",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("first_vintage", sa.Integer(), nullable=False),
        sa.Column("last_vintage", sa.Integer(), nullable=False),
        sa.Column("permit", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("units > 0", name=op.f("ck_entitlements_units_positive")),
        sa.ForeignKeyConstraint(
            ["party_code"],
            ["parties.code"],
            name=op.f("fk_entitlements_party_code_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_entitlements")),
        sa.UniqueConstraint("id", name=op.f("uq_entitlements_id")),
    )
    op.create_table(
        "obligations",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("verified_units", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("penalty_fen", sa.BigInteger(), nullable=False),
        sa.Column("deduction_units", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_code"],
            ["parties.code"],
            name=op.f("fk_obligations_party_code_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_obligations")),
        sa.UniqueConstraint("id", name=op.f("uq_obligations_id")),
    )
    op.create_table(
        "outlets",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("outlet_code", sa.String(length=64), nullable=False),
        sa.Column("standards", sa.JSON(), nullable=False),
        sa.Column("reference_o2", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["party_code"],
            ["parties.code"],
            name=op.f("fk_outlets_party_code_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outlets")),
        sa.UniqueConstraint(
            "party_code", "outlet_code", name=op.f("uq_outlets_party_code_outlet_code")
        ),
    )
    op.create_table(
        "pledges",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("first_vintage", sa.Integer(), nullable=False),
        sa.Column("last_vintage", sa.Integer(), nullable=False),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("units > 0", name=op.f("ck_pledges_units_positive")),
        sa.ForeignKeyConstraint(
            ["party_code"],
            ["parties.code"],
            name=op.f("fk_pledges_party_code_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_pledges")),
        sa.UniqueConstraint("id", name=op.f("uq_pledges_id")),
    )
    op.create_table(
        "trades",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("seller", sa.String(length=32), nullable=False),
        sa.Column("buyer", sa.String(length=32), nullable=False),
        sa.Column("proposer", sa.String(length=32), nullable=False),
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("first_vintage", sa.Integer(), nullable=True),
        sa.Column("last_vintage", sa.Integer(), nullable=True),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=64), nullable=False),
        sa.Column("zero_price_reason", sa.String(length=500), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('proposed', 'accepted', 'settled', 'declined', 'rescinded', 'refused', "
            "'expired')",
            name=op.f("ck_trades_state"),
        ),
        sa.CheckConstraint("price_fen >= 0", name=op.f("ck_trades_price_not_negative")),
        sa.CheckConstraint("units > 0", name=op.f("ck_trades_units_positive")),
        sa.ForeignKeyConstraint(
            ["buyer"], ["parties.code"], name=op.f("fk_trades_buyer_parties"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["seller"], ["parties.code"], name=op.f("fk_trades_seller_parties"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_trades")),
        sa.UniqueConstraint("id", name=op.f("uq_trades_id")),
    )
    op.create_table(
        "surrenders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("obligation_id", sa.String(length=48), nullable=False),
        sa.Column("instrument_code", sa.String(length=32), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["obligation_id"],
            ["obligations.id"],
            name=op.f("fk_surrenders_obligation_id_obligations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surrenders")),
    )
    with op.batch_alter_table("surrenders", schema=None) as batch_op:
        batch_op.create_index("ix_surrenders_obligation_id", ["obligation_id"], unique=False)

    op.create_table(
        "trade_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("trade_id", sa.String(length=48), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["trade_id"],
            ["trades.id"],
            name=op.f("fk_trade_events_trade_id_trades"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_events")),
    )
    with op.batch_alter_table("trade_events", schema=None) as batch_op:
        batch_op.create_index("ix_trade_events_trade_id", ["trade_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trade_events", schema=None) as batch_op:
        batch_op.drop_index("ix_trade_events_trade_id")

    op.drop_table("trade_events")
    with op.batch_alter_table("surrenders", schema=None) as batch_op:
        batch_op.drop_index("ix_surrenders_obligation_id")

    op.drop_table("surrenders")
    op.drop_table("trades")
    op.drop_table("pledges")
    op.drop_table("outlets")
    op.drop_table("obligations")
    op.drop_table("entitlements")
    op.drop_table("policies")
    op.drop_table("parties")
    op.drop_table("cities")
