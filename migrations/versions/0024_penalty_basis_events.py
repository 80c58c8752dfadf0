"""Penalty-basis events (rules.md §7.3): recorded by a regulator against an outlet for a span
of months, with their evidence and, where the permit has no removal efficiency, the generated
mass the regulator determined; chained (`penalty_events`).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE, CHAIN, KEY = "penalty_basis_events", "penalty_events", "id"
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("outlet_code", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("first_month", sa.Date(), nullable=False),
        sa.Column("last_month", sa.Date(), nullable=False),
        sa.Column("evidence", sa.String(length=500), nullable=False),
        sa.Column("generated_kg", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "last_month >= first_month", name=op.f("ck_penalty_basis_events_months_in_order")
        ),
        sa.ForeignKeyConstraint(
            ["party_code", "outlet_code"],
            ["outlets.party_code", "outlets.outlet_code"],
            name=op.f("fk_penalty_basis_events_party_code_outlets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_penalty_basis_events")),
    )
    op.create_index("ix_penalty_basis_events_party_code", TABLE, ["party_code"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_chained AFTER INSERT OR UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{CHAIN}', '{KEY}')"
        )
        return
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    new = f"SELECT '{CHAIN}', CAST(NEW.{KEY} AS TEXT), {SQLITE_NOW}"
    old = f"SELECT '{CHAIN}', CAST(OLD.{KEY} AS TEXT), {SQLITE_NOW}"
    bodies = {
        "insert": f"{insert} {new};",
        "update": f"{insert} {new}; {insert} {old} WHERE OLD.{KEY} IS NOT NEW.{KEY};",
        "delete": f"{insert} {old};",
    }
    for operation, body in bodies.items():
        op.execute(
            f"CREATE TRIGGER {TABLE}_chained_{operation} AFTER {operation.upper()} ON {TABLE} "
            f"BEGIN {body} END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TABLE}_chained ON {TABLE}")
    op.drop_index("ix_penalty_basis_events_party_code", table_name=TABLE)
    op.drop_table(TABLE)
