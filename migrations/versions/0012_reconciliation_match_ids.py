"""Manual reconciliation matches carry the client's id, so a retried match is answered, not
made twice (issue 12: every create is safely retryable).

- `reconciliation_matches.client_id`: the client's id of a manual match (automatic matches have
  none), unique within its reconciliation.

A plain ADD COLUMN on both databases (no table rebuild: the frozen-reconciliation triggers stay).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_reconciliation_matches_reconciliation_id_client_id"
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form


def upgrade() -> None:
    op.add_column(
        "reconciliation_matches", sa.Column("client_id", sa.String(length=40), nullable=True)
    )
    op.create_index(
        INDEX, "reconciliation_matches", ["reconciliation_id", "client_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="reconciliation_matches")
    op.drop_column("reconciliation_matches", "client_id")  # SQLite ≥ 3.35: in place
    # Every match's digest changed: each is queued to be sealed again in its old shape.
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    op.execute(
        "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
        f" SELECT 'reconciliation_matches', CAST(id AS TEXT), {now} FROM reconciliation_matches"
    )
