"""Monthly aggregates and report lines show substitution (rules §7.1) and exceedances (§7.2).

`cems_months` and `emission_report_lines` gain `substituted_hours` (0 for what was written
before), `substitution` ({method: hours}) and `exceedance_hours` (ISO instants). Plain ADD
COLUMNs on both databases: no table rebuild, so no trigger is lost. Report lines are chained
(the `reports` chain): their new columns change every report's digest, so every report is
queued to be sealed again in its new shape by the sealer's next round (the migration, not a
person, changed them). The stored aggregates keep their old figures until their months are
recomputed (`emissions-ledger recompute-cems --from … --to …`, a regulator's command) or
imported again: a migration does not run the domain's rules.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("cems_months", "emission_report_lines")
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("substituted_hours", sa.Integer(), nullable=False, server_default="0"),
        )
        op.add_column(table, sa.Column("substitution", sa.JSON(), nullable=True))
        op.add_column(table, sa.Column("exceedance_hours", sa.JSON(), nullable=True))
    _reseal_reports()


def downgrade() -> None:
    for table in TABLES:
        # DROP COLUMN without a rebuild (SQLite ≥ 3.35, PostgreSQL): the chain and guard
        # triggers of the report lines stay in place.
        for column in ("exceedance_hours", "substitution", "substituted_hours"):
            op.drop_column(table, column)
    _reseal_reports()


def _reseal_reports() -> None:
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    op.execute(
        "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
        f" SELECT 'reports', id, {now} FROM emission_reports"
    )
