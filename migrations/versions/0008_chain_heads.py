"""Tamper evidence that holds: `chain_heads`, where each hash chain ends as its sealer left it.

A sealer appends links and moves its chain's head in one transaction, holding the head row's lock
(so two sealers queue on that row, on any database); verify compares the head with the links,
so links removed from the end or added behind the sealer are seen. The journal's head is filled
from the links sealed so far.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_heads",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.CHAR(64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length >= 0", name=op.f("ck_chain_heads_length_not_negative")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_chain_heads")),
    )
    op.execute(
        "INSERT INTO chain_heads (name, length, hash, position, sealed_at)"
        " SELECT 'journal', COALESCE(MAX(chain_seq), 0),"
        " COALESCE((SELECT hash FROM journal_chain ORDER BY chain_seq DESC LIMIT 1), '"
        + "0" * 64
        + "'), COALESCE(MAX(entry_seq), 0), MAX(sealed_at) FROM journal_chain"
    )


def downgrade() -> None:
    op.drop_table("chain_heads")
