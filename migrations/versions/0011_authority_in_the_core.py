"""Authority in the core: people behind principals, enrolment codes, withdrawn requests, and
audit lines written by the services.

- `principals.person`: the natural person behind a principal (existing principals: their id).
- `enrolments`: one-time codes a principal redeems for a token (only a hash is stored).
- `approval_requests`: the initiator's and the decider's person, with a CHECK that they differ;
  the state `withdrawn` (a deactivated initiator's requests).
- `audit_log`: `pending` and `rate_limited` outcomes, a request id, and `status` optional (only
  the API's own lines carry an HTTP status).
- The enrolments get a hash chain of their own (`enrolments`, as 0010 made the others).

SQLite rebuilds the tables it alters, which drops their triggers: the audit log's append-only
ones and the record-chain triggers of 0010 (principals, approval requests, audit log) are made
again afterwards, the same as before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
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


# The record chains (migration 0010) of the tables altered here: (table, chain, key column).
CHAINED = (
    ("principals", "principals", "id"),
    ("approval_requests", "approvals", "id"),
    ("audit_log", "audit", "seq"),
)
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form


def upgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.add_column(sa.Column("person", sa.String(length=64), nullable=True))
    op.execute("UPDATE principals SET person = id")
    with op.batch_alter_table("principals") as batch:
        batch.alter_column("person", existing_type=sa.String(length=64), nullable=False)
    _enrolments()
    _approvals_up()
    _audit_log(outcomes=f"{OUTCOMES},'pending','rate_limited'", status_nullable=True, add=True)
    _chain_triggers([*CHAINED, ("enrolments", "enrolments", "id")])


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
    if op.get_bind().dialect.name == "sqlite":
        _chain_triggers(list(CHAINED))
    # The principals and approvals lost columns: every digest changed (the audit lines were
    # queued by the UPDATE of every one of them).
    _reseal("principals", "principals", "id")
    _reseal("approvals", "approval_requests", "id")


def _chain_triggers(tables: list[tuple[str, str, str]]) -> None:
    """The record-change triggers of 0010 on `tables`: new ones on PostgreSQL (its ALTERs keep
    triggers, so only a new table needs them), all of them again on SQLite (rebuilt tables lost
    theirs)."""
    if op.get_bind().dialect.name == "postgresql":
        for table, chain, column in tables:
            if table == "enrolments":
                op.execute(
                    f"CREATE TRIGGER {table}_chained AFTER INSERT OR UPDATE OR DELETE ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{chain}', '{column}')"
                )
        return
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    for table, chain, column in tables:
        new = f"SELECT '{chain}', CAST(NEW.{column} AS TEXT), {SQLITE_NOW}"
        old = f"SELECT '{chain}', CAST(OLD.{column} AS TEXT), {SQLITE_NOW}"
        bodies = {
            "insert": f"{insert} {new};",
            "update": f"{insert} {new}; {insert} {old} WHERE OLD.{column} IS NOT NEW.{column};",
            "delete": f"{insert} {old};",
        }
        for operation, body in bodies.items():
            name = f"{table}_chained_{operation}"
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(
                f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} BEGIN {body} END"
            )


def _reseal(chain: str, table: str, key: str) -> None:
    """Queue every record of `chain` to be sealed again: the downgrade changed its shape, so
    its digest (decision "A migration that reshapes a chained table queues its records")."""
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    op.execute(
        "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
        f" SELECT '{chain}', CAST({key} AS TEXT), {now} FROM {table}"
    )
