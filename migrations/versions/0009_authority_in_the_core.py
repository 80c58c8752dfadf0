"""Authority in the core: people behind principals, enrolment codes, withdrawn requests, and
audit lines written by the services.

- `principals.person`: the natural person behind a principal (existing principals: their id).
- `enrolments`: one-time codes a principal redeems for a token (only a hash is stored).
- `approval_requests`: the initiator's and the decider's person, with a CHECK that they differ;
  the state `withdrawn` (a deactivated initiator's requests).
- `audit_log`: `pending` outcomes, a request id, and `status` optional (only the API's own
  lines carry an HTTP status). SQLite rebuilds the table, so its append-only triggers are made
  again afterwards.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = "'pending','applied','rejected','expired'"
OUTCOMES = "'ok','rejected','denied','unauthenticated'"
# On a downgrade: the new outcomes become old ones, and lines the services wrote (no HTTP
# status) record 0, "not an HTTP answer", for the column to be NOT NULL again.
BACK_TO_OLD_LINES = (
    "UPDATE audit_log SET status = COALESCE(status, 0), outcome = CASE outcome "
    "WHEN 'pending' THEN 'ok' WHEN 'rate_limited' THEN 'unauthenticated' ELSE outcome END"
)


def upgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.add_column(sa.Column("person", sa.String(length=64), nullable=True))
    op.execute("UPDATE principals SET person = id")
    with op.batch_alter_table("principals") as batch:
        batch.alter_column("person", existing_type=sa.String(length=64), nullable=False)
    _enrolments()
    _approvals_up()
    _audit_log(outcomes=f"{OUTCOMES},'pending','rate_limited'", status_nullable=True, add=True)


def _enrolments() -> None:
    op.create_table(
        "enrolments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("principal_id", sa.String(length=40), nullable=False),
        sa.Column("code_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=40), nullable=False),
        sa.Column("approved_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_enrolments_principal_id_principals"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments")),
    )
    op.create_index("ix_enrolments_principal_id", "enrolments", ["principal_id"])


def _approvals_up() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.add_column(sa.Column("initiator_person", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("decided_by_person", sa.String(length=64), nullable=True))
    op.execute("UPDATE approval_requests SET initiator_person = initiator")
    op.execute(
        "UPDATE approval_requests SET decided_by_person = decided_by WHERE decided_by IS NOT NULL"
    )
    with op.batch_alter_table("approval_requests") as batch:
        batch.alter_column("initiator_person", existing_type=sa.String(length=64), nullable=False)
        batch.drop_constraint(op.f("ck_approval_requests_state_known"), type_="check")
        batch.create_check_constraint(
            op.f("ck_approval_requests_state_known"), f"state IN ({STATES},'withdrawn')"
        )
        batch.create_check_constraint(
            op.f("ck_approval_requests_four_eyes_people"),
            "decided_by_person IS NULL OR decided_by_person <> initiator_person",
        )


def _audit_log(*, outcomes: str, status_nullable: bool, add: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # the rebuild copies rows: the append-only triggers must be out of the way
        _sqlite_triggers(drop=True)
    with op.batch_alter_table("audit_log") as batch:
        if add:
            batch.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        else:
            batch.drop_column("request_id")
        batch.alter_column("status", existing_type=sa.Integer(), nullable=status_nullable)
        batch.drop_constraint(op.f("ck_audit_log_outcome_known"), type_="check")
        batch.create_check_constraint(
            op.f("ck_audit_log_outcome_known"), f"outcome IN ({outcomes})"
        )
    if sqlite:
        _sqlite_triggers(drop=False)


def _sqlite_triggers(*, drop: bool) -> None:
    """SQLite's append-only triggers on the audit log (as migration 0004 made them)."""
    for operation in ("UPDATE", "DELETE"):
        name = f"audit_log_no_{operation.lower()}"
        op.execute(
            f"DROP TRIGGER {name}"
            if drop
            else f"CREATE TRIGGER {name} BEFORE {operation} ON audit_log BEGIN SELECT "
            f"RAISE(ABORT, 'the audit log is append-only: {operation} on audit_log refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_immutable")
        op.execute(BACK_TO_OLD_LINES)
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_immutable")
    else:
        _sqlite_triggers(drop=True)
        op.execute(BACK_TO_OLD_LINES)
        _sqlite_triggers(drop=False)
    _audit_log(outcomes=OUTCOMES, status_nullable=False, add=False)
    op.execute("UPDATE approval_requests SET state = 'expired' WHERE state = 'withdrawn'")
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_constraint(op.f("ck_approval_requests_four_eyes_people"), type_="check")
        batch.drop_constraint(op.f("ck_approval_requests_state_known"), type_="check")
        batch.create_check_constraint(
            op.f("ck_approval_requests_state_known"), f"state IN ({STATES})"
        )
        batch.drop_column("decided_by_person")
        batch.drop_column("initiator_person")
    op.drop_table("enrolments")
    with op.batch_alter_table("principals") as batch:
        batch.drop_column("person")
