"""Access control: principals, API tokens, four-eyes requests and the audit log.

Tokens are stored only as a SHA-256 hash of their secret. The audit log is append-only: triggers
refuse any UPDATE or DELETE of it on both databases (PostgreSQL reuses `ledger_refuse_change()`).
Four-eyes is a CHECK: whoever decides a request is never its initiator.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLES = "'regulator','city_authority','enterprise','verifier','finance','administrator'"

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _principals()
    _tokens()
    _approvals()
    _audit_log()


def _principals() -> None:
    op.create_table(
        "principals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_principals_role_known")),
        sa.CheckConstraint("kind IN ('user','service')", name=op.f("ck_principals_kind_known")),
        sa.CheckConstraint(
            "party_code IS NOT NULL OR role NOT IN ('enterprise','city_authority')",
            name=op.f("ck_principals_scoped_role_has_party"),
        ),
        sa.ForeignKeyConstraint(
            ["party_code"],
            ["parties.code"],
            name=op.f("fk_principals_party_code_parties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principals")),
    )


def _tokens() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("principal_id", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_api_tokens_principal_id_principals"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
    )
    op.create_index("ix_api_tokens_principal_id", "api_tokens", ["principal_id"])


def _approvals() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("authority", sa.String(length=40), nullable=False),
        sa.Column("initiator", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=400), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending','applied','rejected','expired')",
            name=op.f("ck_approval_requests_state_known"),
        ),
        sa.CheckConstraint(
            "decided_by IS NULL OR decided_by <> initiator",
            name=op.f("ck_approval_requests_four_eyes"),
        ),
        sa.CheckConstraint(
            "(state = 'pending') = (decided_at IS NULL)",
            name=op.f("ck_approval_requests_decided_unless_pending"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
    )
    op.create_index(
        "ix_approval_requests_state_authority", "approval_requests", ["state", "authority"]
    )


def _audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal_id", sa.String(length=40), nullable=True),
        sa.Column("token_id", sa.String(length=24), nullable=True),
        sa.Column("action", sa.String(length=120), nullable=False),
        sa.Column("target", sa.String(length=400), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('ok','rejected','denied','unauthenticated')",
            name=op.f("ck_audit_log_outcome_known"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_principal_id", "audit_log", ["principal_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{operation.lower()} BEFORE {operation} "
                f"ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: "
                f"{operation} on audit_log refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_immutable ON audit_log")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_log_no_{operation}")
    for table in ("audit_log", "approval_requests", "api_tokens", "principals"):
        op.drop_table(table)
