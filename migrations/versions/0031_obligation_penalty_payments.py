"""Payments of a carbon obligation's shortfall penalty (rules §5): the enterprise pays what the
deadline booked through the ledger, as it pays a rights penalty (0017), each payment a row of
`obligation_penalty_payments`, chained on their own (chain `obligation_payments`).

A new table: no existing record changes shape, so nothing is queued to be sealed again.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE, CHAIN, KEY = "obligation_penalty_payments", "obligation_payments", "id"
INDEX = "ix_obligation_penalty_payments_obligation_id"
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("obligation_id", sa.String(length=48), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f(f"ck_{TABLE}_amount_positive")),
        sa.ForeignKeyConstraint(
            ["obligation_id"],
            ["obligations.id"],
            name=op.f(f"fk_{TABLE}_obligation_id_obligations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(INDEX, TABLE, ["obligation_id"])
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
    op.drop_index(INDEX, table_name=TABLE)
    op.drop_table(TABLE)
    op.execute(f"DELETE FROM record_changes WHERE chain = '{CHAIN}'")  # noqa: S608 - constants
