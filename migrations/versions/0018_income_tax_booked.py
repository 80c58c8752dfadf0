"""Income-tax support, booked (rules §1.4): an enterprise's tax years of the equipment credit
(`equipment_credit_years`) with each credit's use and lapse (`equipment_credit_moves`), and
retrofit projects (`retrofit_projects`) with the years booked on their 3+3-year exemption
(`retrofit_project_years`); two chains, as 0010 made the others (`credit_years`,
`retrofit_projects`).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form
# (table, chain, the column holding the key of the record a row belongs to)
CHAINED = (
    ("equipment_credit_years", "credit_years", "id"),
    ("equipment_credit_moves", "credit_years", "year_id"),
    ("retrofit_projects", "retrofit_projects", "id"),
    ("retrofit_project_years", "retrofit_projects", "project_id"),
)


def _party(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["party_code"],
        ["parties.code"],
        name=op.f(f"fk_{table}_party_code_parties"),
        ondelete="RESTRICT",
    )


def upgrade() -> None:
    op.create_table(
        "equipment_credit_years",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("cit_payable_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.CheckConstraint(
            "cit_payable_fen >= 0",
            name=op.f("ck_equipment_credit_years_cit_payable_not_negative"),
        ),
        _party("equipment_credit_years"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_equipment_credit_years")),
        sa.UniqueConstraint("id", name=op.f("uq_equipment_credit_years_id")),
        sa.UniqueConstraint(
            "party_code", "year", name=op.f("uq_equipment_credit_years_party_code_year")
        ),
    )
    op.create_table(
        "equipment_credit_moves",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("year_id", sa.String(length=48), nullable=False),
        sa.Column("incentive_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("kind IN ('use', 'lapse')", name=op.f("ck_equipment_credit_moves_kind")),
        sa.CheckConstraint(
            "amount_fen > 0", name=op.f("ck_equipment_credit_moves_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["year_id"],
            ["equipment_credit_years.id"],
            name=op.f("fk_equipment_credit_moves_year_id_equipment_credit_years"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment_credit_moves")),
    )
    op.create_index("ix_equipment_credit_moves_year_id", "equipment_credit_moves", ["year_id"])
    op.create_index(
        "ix_equipment_credit_moves_incentive_id", "equipment_credit_moves", ["incentive_id"]
    )
    op.create_table(
        "retrofit_projects",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("first_revenue_year", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        _party("retrofit_projects"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_retrofit_projects")),
        sa.UniqueConstraint("id", name=op.f("uq_retrofit_projects_id")),
    )
    op.create_index("ix_retrofit_projects_party_code", "retrofit_projects", ["party_code"])
    op.create_table(
        "retrofit_project_years",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(length=48), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("income_fen", sa.BigInteger(), nullable=False),
        sa.Column("exempt_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["retrofit_projects.id"],
            name=op.f("fk_retrofit_project_years_project_id_retrofit_projects"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrofit_project_years")),
        sa.UniqueConstraint(
            "project_id", "year", name=op.f("uq_retrofit_project_years_project_id_year")
        ),
    )
    for table, chain, column in CHAINED:
        _chain_trigger(table, chain, column)


def _chain_trigger(table: str, chain: str, column: str) -> None:
    """The record-change trigger(s) of 0010 on a new table."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_chained AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{chain}', '{column}')"
        )
        return
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    new = f"SELECT '{chain}', CAST(NEW.{column} AS TEXT), {SQLITE_NOW}"
    old = f"SELECT '{chain}', CAST(OLD.{column} AS TEXT), {SQLITE_NOW}"
    bodies = {
        "insert": f"{insert} {new};",
        "update": f"{insert} {new}; {insert} {old} WHERE OLD.{column} IS NOT NEW.{column};",
        "delete": f"{insert} {old};",
    }
    for operation, body in bodies.items():
        op.execute(
            f"CREATE TRIGGER {table}_chained_{operation} AFTER {operation.upper()} ON {table} "
            f"BEGIN {body} END"
        )


def downgrade() -> None:
    op.drop_table("retrofit_project_years")
    op.drop_index("ix_retrofit_projects_party_code", table_name="retrofit_projects")
    op.drop_table("retrofit_projects")
    op.drop_index("ix_equipment_credit_moves_incentive_id", table_name="equipment_credit_moves")
    op.drop_index("ix_equipment_credit_moves_year_id", table_name="equipment_credit_moves")
    op.drop_table("equipment_credit_moves")
    op.drop_table("equipment_credit_years")
    op.execute("DELETE FROM record_changes WHERE chain IN ('credit_years', 'retrofit_projects')")
