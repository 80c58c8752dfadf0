"""Tamper evidence: `journal_chain`, the journal's entries chained by hash in sealing order.

Like the journal itself, the chain is append-only: triggers refuse any UPDATE or DELETE of it
on both databases (PostgreSQL reuses 0001's `ledger_refuse_change()`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journal_chain",
        sa.Column("chain_seq", ID, autoincrement=False, nullable=False),
        sa.Column("entry_seq", ID, nullable=False),
        sa.Column("previous_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("hash", sa.CHAR(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("chain_seq >= 1", name=op.f("ck_journal_chain_chain_seq_positive")),
        sa.ForeignKeyConstraint(
            ["entry_seq"],
            ["entries.seq"],
            name=op.f("fk_journal_chain_entry_seq_entries"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("chain_seq", name=op.f("pk_journal_chain")),
        sa.UniqueConstraint("entry_seq", name=op.f("uq_journal_chain_entry_seq")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER journal_chain_immutable BEFORE UPDATE OR DELETE ON journal_chain "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER journal_chain_no_{operation.lower()} BEFORE {operation} "
                f"ON journal_chain BEGIN SELECT RAISE(ABORT, 'journal records are immutable: "
                f"{operation} on journal_chain refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER journal_chain_immutable ON journal_chain")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER journal_chain_no_{operation}")
    op.drop_table("journal_chain")
