"""What an outlet's measured PM is taxed as (soot or general dust, rules.md §1.2) is the outlet's
permit's, set by a regulator (§7.4), no longer a field of the enterprise's report draft.

- `outlet_permits.particulate`: 'soot' or 'general_dust'. Every permit stored before gets
  'soot', the classification every report drafted without naming the outlet had (combustion
  flue gas; decision "Analyser ranges per pollutant; PM taxed as soot"); a regulator states
  general dust with a new permit, which needs a second regulator since it lowers the tax.

A plain ADD COLUMN with a server default on both databases (no table rebuild: the chain and
append-only triggers stay). The column changes the digest of every permit, a chained record:
every permit is queued to be sealed again in its new shape (decision "A migration that reshapes
a chained table queues its records to be sealed again"); its downgrade queues them alike.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "outlet_permits"
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form


def upgrade() -> None:
    column = sa.Column("particulate", sa.String(length=16), nullable=False, server_default="soot")
    op.add_column(TABLE, column)
    _reseal_permits()


def downgrade() -> None:
    op.drop_column(TABLE, "particulate")  # SQLite ≥ 3.35 and PostgreSQL: in place
    _reseal_permits()


def _reseal_permits() -> None:
    """A permit's sealed record covers every column, and one was added or dropped: note every
    permit as changed so that the sealer seals it as it now is (not a tampering)."""
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    op.execute(
        "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
        f" SELECT 'permits', CAST(seq AS TEXT), {now} FROM {TABLE}"
    )
