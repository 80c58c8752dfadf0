"""The web console's jobs (CEMS imports, exports) are shared by every worker of a server: their
state in `console_jobs`, an export's file in `console_job_chunks` (a MiB a row), so that any
worker answers a job's progress page and its download. A job still runs in a thread of the worker
that started it, which writes its progress there. Not business records: no chain; deleted an hour
after they end.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_jobs",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("principal_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("what", sa.String(length=200), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("done", sa.BigInteger(), nullable=False),
        sa.Column("started_at", INSTANT, nullable=False),
        sa.Column("beat_at", INSTANT, nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("ended_at", INSTANT, nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("kind IN ('import','export')", name=op.f("ck_console_jobs_kind_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_jobs")),
    )
    op.create_index(op.f("ix_console_jobs_principal_id"), "console_jobs", ["principal_id"])
    op.create_table(
        "console_job_chunks",
        sa.Column("job_id", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["console_jobs.id"],
            name=op.f("fk_console_job_chunks_job_id_console_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_console_job_chunks")),
    )


def downgrade() -> None:
    op.drop_table("console_job_chunks")
    op.drop_index(op.f("ix_console_jobs_principal_id"), table_name="console_jobs")
    op.drop_table("console_jobs")  # jobs and their files go: exports are made again
