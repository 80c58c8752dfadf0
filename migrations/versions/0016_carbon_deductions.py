"""Carbon deductions (rules §7.9): a closed obligation's shortfall is deducted from later CEA
allocations once, until fully deducted; each deduction is a record of its own
(`carbon_deductions`, one row per allocation and obligation), chained like the other business
records (chain `deductions`, as 0010 made the others).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form
TABLE, CHAIN, KEY = "carbon_deductions", "deductions", "id"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("obligation_id", sa.String(length=48), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("allocation_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("allocated_units", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("units > 0", name=op.f("ck_carbon_deductions_units_positive")),
        sa.ForeignKeyConstraint(
            ["obligation_id"],
            ["obligations.id"],
            name=op.f("fk_carbon_deductions_obligation_id_obligations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["party_code"],
            ["parties.code"],
            name=op.f("fk_carbon_deductions_party_code_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_carbon_deductions")),
        sa.UniqueConstraint("id", name=op.f("uq_carbon_deductions_id")),
    )
    for column in ("obligation_id", "allocation_id", "party_code"):
        op.create_index(f"ix_{TABLE}_{column}", TABLE, [column])
    _chain_triggers()


def _chain_triggers() -> None:
    """The record-change triggers of 0010 on the new table."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_chained AFTER INSERT OR UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{CHAIN}', '{KEY}')"
        )
        return
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    new = f"SELECT '{CHAIN}', CAST(NEW.{KEY} AS TEXT), {SQLITE_NOW}"
    old = f"SELECT '{CHAIN}', CAST(OLD.{KEY} AS TEXT), {SQLITE_NOW}"
    bodies = {
        "insert": f"{insert} {new};",
        "update": f"{insert} {new}; {insert} {old} WHERE OLD.{KEY} IS NOT NEW.{KEY};",
        "delete": f"{insert} {old};",
    }
    for operation, body in bodies.items():
        op.execute(
            f"CREATE TRIGGER {TABLE}_chained_{operation} AFTER {operation.upper()} ON {TABLE} "
            f"BEGIN {body} END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TABLE}_chained ON {TABLE}")
    for column in ("obligation_id", "allocation_id", "party_code"):
        op.drop_index(f"ix_{TABLE}_{column}", table_name=TABLE)
    op.drop_table(TABLE)
    op.execute(f"DELETE FROM record_changes WHERE chain = '{CHAIN}'")  # noqa: S608 - constants
