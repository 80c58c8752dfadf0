"""Reserve listings (rules §4): `listings`, an authority's offer of reserve rights at a fixed
price or by auction, and `listing_bids`, the auction's bids; one chain (`listings`), the bids a
part of their listing's record.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form
# (table, chain, key column of the record a row belongs to), as in 0010.
CHAINED = (("listings", "listings", "id"), ("listing_bids", "listings", "listing_id"))


def upgrade() -> None:
    op.create_table(
        "listings",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("seller", sa.String(length=32), nullable=False),
        sa.Column("family", sa.String(length=16), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("listing_date", sa.Date(), nullable=False),
        sa.Column("first_vintage", sa.Integer(), nullable=False),
        sa.Column("last_vintage", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.CheckConstraint("units > 0", name=op.f("ck_listings_units_positive")),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_listings_price_positive")),
        sa.CheckConstraint("mode IN ('fixed_price', 'auction')", name=op.f("ck_listings_mode")),
        sa.CheckConstraint(
            "state IN ('open', 'sold', 'unsold', 'withdrawn')", name=op.f("ck_listings_state")
        ),
        sa.ForeignKeyConstraint(
            ["seller"],
            ["parties.code"],
            name=op.f("fk_listings_seller_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_listings")),
        sa.UniqueConstraint("id", name=op.f("uq_listings_id")),
    )
    op.create_table(
        "listing_bids",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("listing_id", sa.String(length=48), nullable=False),
        sa.Column("bidder", sa.String(length=32), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_listing_bids_listing_id_listings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["bidder"],
            ["parties.code"],
            name=op.f("fk_listing_bids_bidder_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_bids")),
    )
    op.create_index("ix_listing_bids_listing_id", "listing_bids", ["listing_id"])
    _chain_triggers()


def downgrade() -> None:
    op.drop_table("listing_bids")
    op.drop_table("listings")


def _chain_triggers() -> None:
    """The record-change triggers of 0010 on the new tables."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    for table, chain, column in CHAINED:
        if postgresql:
            op.execute(
                f"CREATE TRIGGER {table}_chained AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{chain}', '{column}')"
            )
            continue
        new = f"SELECT '{chain}', CAST(NEW.{column} AS TEXT), {SQLITE_NOW}"
        old = f"SELECT '{chain}', CAST(OLD.{column} AS TEXT), {SQLITE_NOW}"
        bodies = {
            "insert": f"{insert} {new};",
            "update": f"{insert} {new}; {insert} {old} WHERE OLD.{column} IS NOT NEW.{column};",
            "delete": f"{insert} {old};",
        }
        for operation, body in bodies.items():
            op.execute(
                f"CREATE TRIGGER {table}_chained_{operation} AFTER {operation.upper()} ON {table}"
                f" BEGIN {body} END"
            )
