"""An auction's bids carry the bidder's id, so a retried bid is answered, not refused as no
longer above the best bid (it is the best bid now) nor booked twice (every create is safely
retryable).

- `listing_bids.client_id`: the bidder's id of its bid, unique within its listing (a bid lives
  under its listing's address, as a manual match under its reconciliation's, 0012). NULL for the
  bids made before (their retries were never answered) and for a bid sent without an id (the
  API keeps accepting those: a new bid each time, as before).

A plain ADD COLUMN on both databases (no table rebuild: the chain triggers stay). Bids are a part
of their listing's chained record: the new column changes the digest of every listing with bids,
so every listing is queued to be sealed again in its new shape by the sealer's next round (the
migration, not a person, changed them; decision "A migration that reshapes a chained table
queues its records to be sealed again": a listing without bids is queued too, and gains no
link). Its downgrade queues them alike.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "listing_bids"
INDEX = "uq_listing_bids_listing_id_client_id"
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("client_id", sa.String(length=40), nullable=True))
    op.create_index(INDEX, TABLE, ["listing_id", "client_id"], unique=True)
    _reseal_listings()


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.drop_column(TABLE, "client_id")  # SQLite ≥ 3.35 and PostgreSQL: in place
    _reseal_listings()


def _reseal_listings() -> None:
    """A listing's sealed record includes its bids, whose columns changed: note every listing
    as changed so that the sealer seals it as it now is (not a tampering)."""
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    op.execute(
        "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
        f" SELECT 'listings', id, {now} FROM listings"
    )
