"""A city's eligibility to receive air-pollutant rights is decided per year (rules §7.11):
`city_years` (city, year, may_receive_air_rights, basis), chained with its city (a part of the
`cities` chain); the fixed flag `cities.may_receive_air_rights` goes.

The old flag meant "this year" (so said its endpoint): each city's flag becomes its decision
for the year of the upgrade, with that basis noted. A downgrade puts back each city's latest
decision as its flag (no decision: may not receive, as the rule now refuses).

SQLite rebuilds `cities` to drop the column, which drops its chain triggers: they are made
again afterwards (as 0011 does), and `city_years` gets its own.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form
BEIJING = timedelta(hours=8)
# (table, chain, key column of the record the row belongs to), as in 0010.
CHAINED = (("cities", "cities", "name"), ("city_years", "cities", "city"))


def upgrade() -> None:
    op.create_table(
        "city_years",
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("may_receive_air_rights", sa.Boolean(), nullable=False),
        sa.Column("basis", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["city"], ["cities.name"], name=op.f("fk_city_years_city_cities"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("city", "year", name=op.f("pk_city_years")),
    )
    year = (datetime.now(UTC) + BEIJING).year
    op.execute(
        "INSERT INTO city_years (city, year, may_receive_air_rights, basis)"  # noqa: S608
        f" SELECT name, {year}, may_receive_air_rights,"
        " 'the flag before eligibility was per year' FROM cities"
    )
    with op.batch_alter_table("cities") as batch:
        batch.drop_column("may_receive_air_rights")
    _chain_triggers()


def downgrade() -> None:
    with op.batch_alter_table("cities") as batch:
        batch.add_column(
            sa.Column(
                "may_receive_air_rights", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.execute(
        "UPDATE cities SET may_receive_air_rights = COALESCE((SELECT y.may_receive_air_rights"
        " FROM city_years y WHERE y.city = cities.name ORDER BY y.year DESC LIMIT 1), FALSE)"
    )
    op.drop_table("city_years")
    if op.get_bind().dialect.name == "sqlite":
        _chain_triggers(only_cities=True)
    # Every city gained a column and lost its years (on SQLite the rebuild dropped the triggers
    # before the UPDATE could queue them): queued to be sealed again.
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    op.execute(
        "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
        f" SELECT 'cities', name, {now} FROM cities"
    )


def _chain_triggers(*, only_cities: bool = False) -> None:
    """The record-change triggers of 0010: `city_years`' on PostgreSQL (its ALTER keeps the
    cities' triggers); on SQLite the rebuilt cities' again, and `city_years`' unless only the
    cities are asked for."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER city_years_chained AFTER INSERT OR UPDATE OR DELETE ON city_years "
            "FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('cities', 'city')"
        )
        return
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    for table, chain, column in CHAINED[:1] if only_cities else CHAINED:
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
