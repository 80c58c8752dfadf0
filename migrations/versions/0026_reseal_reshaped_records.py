"""Records whose table changed shape without being queued to be sealed again are queued now.

A record's digest covers every column of its table and its parts' rows, so a migration that adds
or drops a column of a chained table (or gives its chain a new part) changes the digest of every
record of it: unless the records are queued to be sealed again (as 0015, 0023 and 0025 do), a
database whose records were sealed before the migration fails verification afterwards, every
such record `record_changed`, though nothing was tampered with. Five migrations did not queue:

- 0011: `audit_log.request_id` (chain `audit`);
- 0012: `reconciliation_matches.client_id` (chain `reconciliation_matches`);
- 0014: `verified_reductions.retrofit_month` and the part `verified_reduction_reversals`
  (chain `reductions`);
- 0020: `cities.may_receive_air_rights` dropped and the part `city_years` (chain `cities`; the
  city years it wrote were inserted before their triggers existed);
- 0021: `entitlements.acquisition` (chain `entitlements`).

Every record of those chains is queued: the sealer's next round seals each one whose digest is
not the one its chain last sealed and forgets the others, so a database where they were sealed
in their new shape since (or a new one) gains no link. The links sealed before stay as they were
and still verify; the migration, not a person, changed the records.

A downgrade changes no table, so no digest: nothing to queue, and the changes queued here are
the sealer's to drain as they are.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form
# (chain, root table, key column) of every chain a migration reshaped without queuing it.
RESHAPED = (
    ("audit", "audit_log", "seq"),
    ("reconciliation_matches", "reconciliation_matches", "id"),
    ("reductions", "verified_reductions", "id"),
    ("cities", "cities", "name"),
    ("entitlements", "entitlements", "id"),
)


def upgrade() -> None:
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    for chain, table, key in RESHAPED:
        op.execute(
            "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
            f" SELECT '{chain}', CAST({key} AS TEXT), {now} FROM {table}"
        )


def downgrade() -> None:
    """Nothing changed shape: nothing to queue."""
