"""The web console's sessions move from the process to the database: `console_sessions`, so
that every worker of a server (`serve --workers 2`, whose workers share one socket with no
stickiness) knows a browser that signed in on another.

No secret is stored: a session's row is keyed by the SHA-256 of its id (the cookie's value), and
names the token it signed in with by the token's id; every request re-authenticates that token
(a revoked token or a deactivated principal ends the session). Sessions are not business records:
no chain, deleted when idle or signed out. Deleting a token's row (never done) takes its
sessions with it.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "console_sessions"
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=24), nullable=False),
        sa.Column("principal_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("last_seen_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_console_sessions_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_last_seen_at"), TABLE, ["last_seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_console_sessions_last_seen_at"), table_name=TABLE)
    op.drop_table(TABLE)  # the sessions go: every browser signs in again
