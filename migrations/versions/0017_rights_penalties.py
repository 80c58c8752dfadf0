"""Rights penalties (rules §7.10): a penalty a regulator books for a finding of a verified
report (`rights_penalties`) and the enterprise's payments of it (`rights_penalty_payments`),
chained together (chain `rights_penalties`, as 0010 made the others).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form
CHAIN = "rights_penalties"
# (table, the column holding the key of the penalty a row belongs to)
CHAINED = (("rights_penalties", "id"), ("rights_penalty_payments", "penalty_id"))


def upgrade() -> None:
    op.create_table(
        "rights_penalties",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("findings", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_rights_penalties_amount_positive")),
        sa.ForeignKeyConstraint(
            ["party_code"],
            ["parties.code"],
            name=op.f("fk_rights_penalties_party_code_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_rights_penalties")),
        sa.UniqueConstraint("id", name=op.f("uq_rights_penalties_id")),
    )
    op.create_index("ix_rights_penalties_party_code", "rights_penalties", ["party_code"])
    op.create_table(
        "rights_penalty_payments",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("penalty_id", sa.String(length=48), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.CheckConstraint(
            "amount_fen > 0", name=op.f("ck_rights_penalty_payments_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["penalty_id"],
            ["rights_penalties.id"],
            name=op.f("fk_rights_penalty_payments_penalty_id_rights_penalties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_penalty_payments")),
    )
    op.create_index(
        "ix_rights_penalty_payments_penalty_id", "rights_penalty_payments", ["penalty_id"]
    )
    for table, column in CHAINED:
        _chain_trigger(table, column)


def _chain_trigger(table: str, column: str) -> None:
    """The record-change trigger(s) of 0010 on a new table."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_chained AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{CHAIN}', '{column}')"
        )
        return
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    new = f"SELECT '{CHAIN}', CAST(NEW.{column} AS TEXT), {SQLITE_NOW}"
    old = f"SELECT '{CHAIN}', CAST(OLD.{column} AS TEXT), {SQLITE_NOW}"
    bodies = {
        "insert": f"{insert} {new};",
        "update": f"{insert} {new}; {insert} {old} WHERE OLD.{column} IS NOT NEW.{column};",
        "delete": f"{insert} {old};",
    }
    for operation, body in bodies.items():
        op.execute(
            f"CREATE TRIGGER {table}_chained_{operation} AFTER {operation.upper()} ON {table} "
            f"BEGIN {body} END"
        )


def downgrade() -> None:
    op.drop_index("ix_rights_penalty_payments_penalty_id", table_name="rights_penalty_payments")
    op.drop_table("rights_penalty_payments")
    op.drop_index("ix_rights_penalties_party_code", table_name="rights_penalties")
    op.drop_table("rights_penalties")
    op.execute(f"DELETE FROM record_changes WHERE chain = '{CHAIN}'")  # noqa: S608 - constants
