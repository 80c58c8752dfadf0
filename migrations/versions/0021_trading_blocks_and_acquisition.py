"""Trading blocks and how entitlements were acquired (rules §4, §7.11).

- `trading_blocks`: a regulator's block on a party (enforcement: it may not receive rights) or
  on its rights (leasing, unclear title: it may not transfer them), from a business date until
  lifted; chained (`blocks`) like every business record.
- `entitlements.acquisition`: `free` (allocated) or `paid` (paid use); the entitlements there
  were confirmed before this record was kept, and an allocation is free unless said otherwise:
  they are `free`. A plain ADD COLUMN on both databases (no rebuild, no trigger lost).

SQLite rebuilds `entitlements` to drop the column on a downgrade, which drops its chain
triggers: they are made again afterwards (as 0011 does).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form


def upgrade() -> None:
    op.add_column(
        "entitlements",
        sa.Column("acquisition", sa.String(length=8), server_default="free", nullable=False),
    )
    op.create_table(
        "trading_blocks",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("lifted_on", sa.Date(), nullable=True),
        sa.Column("basis", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('enforcement', 'leasing', 'unclear_title')",
            name=op.f("ck_trading_blocks_kind"),
        ),
        sa.CheckConstraint(
            "lifted_on IS NULL OR lifted_on >= effective_from",
            name=op.f("ck_trading_blocks_lifted_after"),
        ),
        sa.ForeignKeyConstraint(
            ["party_code"],
            ["parties.code"],
            name=op.f("fk_trading_blocks_party_code_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_trading_blocks")),
        sa.UniqueConstraint("id", name=op.f("uq_trading_blocks_id")),
    )
    op.create_index("ix_trading_blocks_party_code", "trading_blocks", ["party_code"])
    _chain_triggers("trading_blocks", "blocks")


def downgrade() -> None:
    op.drop_table("trading_blocks")
    with op.batch_alter_table("entitlements") as batch:
        batch.drop_column("acquisition")
    if op.get_bind().dialect.name == "sqlite":
        _chain_triggers("entitlements", "entitlements")
    # Every entitlement lost a column: queued to be sealed again in its old shape.
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    op.execute(
        "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
        f" SELECT 'entitlements', id, {now} FROM entitlements"
    )


def _chain_triggers(table: str, chain: str) -> None:
    """The record-change triggers of 0010 on `table` (keyed by its `id`)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_chained AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{chain}', 'id')"
        )
        return
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    new = f"SELECT '{chain}', CAST(NEW.id AS TEXT), {SQLITE_NOW}"
    old = f"SELECT '{chain}', CAST(OLD.id AS TEXT), {SQLITE_NOW}"
    bodies = {
        "insert": f"{insert} {new};",
        "update": f"{insert} {new}; {insert} {old} WHERE OLD.id IS NOT NEW.id;",
        "delete": f"{insert} {old};",
    }
    for operation, body in bodies.items():
        name = f"{table}_chained_{operation}"
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} BEGIN {body} END")
