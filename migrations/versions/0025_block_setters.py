"""A trading block records the scope of the authority that set it (rules §4, §7.11).

`trading_blocks.set_by_city`: the city of the authority that set the block, NULL for the
province (an unlimited scope). Only an authority whose scope covers the setter's may lift a
block, so a city's authority cannot lift what the province set. The blocks set before this
migration have no recorded setter: they are NULL, the province's, and only an unlimited-scope
authority lifts them (the safe reading: decision "A block is lifted by its setter's authority
or a wider one").

A plain ADD COLUMN on both databases (no rebuild, no trigger lost). Blocks are chained (the
`blocks` chain) and the new column changes every block's digest, so every block is queued to be
sealed again in its new shape by the sealer's next round, as 0015 did for reports: the links
sealed before stay as they were and still verify, and the migration, not a person, changed
the records. A downgrade drops the column (the setters recorded since are lost: every block is
the province's again once upgraded) and queues the blocks likewise.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE, CHAIN, KEY = "trading_blocks", "blocks", "id"
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("set_by_city", sa.String(length=64), nullable=True))
    _reseal_blocks()


def downgrade() -> None:
    # DROP COLUMN without a rebuild (SQLite ≥ 3.35, PostgreSQL): the chain triggers stay.
    op.drop_column(TABLE, "set_by_city")
    _reseal_blocks()


def _reseal_blocks() -> None:
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    op.execute(
        "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
        f" SELECT '{CHAIN}', {KEY}, {now} FROM {TABLE}"
    )
