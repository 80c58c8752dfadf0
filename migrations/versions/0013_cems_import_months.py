"""A CEMS import keeps how many monthly aggregates it recomputed, so that a retry of the same
bytes answers exactly what the import answered (`cems_imports.months`; earlier imports: 0).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: no table rebuild, so no trigger is lost.
    op.add_column(
        "cems_imports", sa.Column("months", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("cems_imports") as batch:
        batch.drop_column("months")
