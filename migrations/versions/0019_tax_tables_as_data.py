"""The tax tables as effective-dated data (rules.md §7.6), and the scheme and tier each month
of a return was taxed at.

- `tax_table_entries`: rates (scheme, tier, rate category → CNY per equivalent), pollution
  equivalent values (pollutant → kg) and tier memberships (city, county → scheme, tier), each
  valid from the first day of a month. Seeded with the 2018 tables: the equivalent values, the
  national minimum (air 1.2, water 1.4 CNY per equivalent) and Hebei's three tiers with the
  cities and counties rules.md §1.2 names.
- `tax_return_schedules`: per return and month, the scheme and tier it was taxed at (returns
  filed before: Hebei, their `tier`).

Both are append-only (triggers refuse UPDATE and DELETE) and have a hash chain of their own
(`tax_tables`, `return_schedules`), as 0010 made the others; the seeded rows are queued for
sealing by their insert triggers.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

import re
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHAINED = (
    ("tax_table_entries", "tax_tables", "id"),
    ("tax_return_schedules", "return_schedules", "id"),
)
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form
SHAPES = (
    "(kind = 'rate' AND scheme IS NOT NULL AND tier IS NOT NULL AND category IS NOT NULL"
    " AND value IS NOT NULL)"
    " OR (kind = 'equivalent' AND pollutant IS NOT NULL AND value IS NOT NULL)"
    " OR (kind = 'membership' AND city IS NOT NULL AND county IS NOT NULL"
    " AND scheme IS NOT NULL AND tier IS NOT NULL)"
)
VALID_FROM = date(2018, 1, 1)
SEEDED_BY = "migration-0019"
# rules.md §1.2, as of 2018-01-01 (a frozen copy: the application's tables may change later).
EQUIVALENTS = {
    "SO2": "0.95", "NOx": "0.95", "soot": "2.18", "general_dust": "4", "CO": "16.7",
    "fluoride": "0.87", "HCl": "10.75", "NH3": "9.09", "COD": "1", "NH3-N": "0.8", "SS": "4",
    "petroleum": "0.1", "total_P": "0.25", "volatile_phenol": "0.08", "total_Hg": "0.0005",
    "total_Cd": "0.005", "total_Cr": "0.04", "Cr6+": "0.02", "total_As": "0.02",
    "total_Pb": "0.025", "total_Ni": "0.025", "benzo_a_pyrene": "0.0000003",
    "total_Be": "0.01", "total_Ag": "0.02",
}  # fmt: skip
CATEGORIES = ("so2_nox", "other_air", "cod_nh3n", "other_water")
RATES = {
    ("national", "minimum"): ("1.2", "1.2", "1.4", "1.4"),
    ("hebei", "1"): ("9.6", "4.8", "11.2", "5.6"),
    ("hebei", "2"): ("6.0", "4.8", "7.0", "5.6"),
    ("hebei", "3"): ("4.8", "4.8", "5.6", "5.6"),
}
HEBEI_CITIES = {
    "Xiong'an": "1", "Shijiazhuang": "2", "Baoding": "2", "Langfang": "2", "Dingzhou": "2",
    "Xinji": "2", "Tangshan": "3", "Qinhuangdao": "3", "Handan": "3", "Xingtai": "3",
    "Zhangjiakou": "3", "Chengde": "3", "Cangzhou": "3", "Hengshui": "3",
}  # fmt: skip
HEBEI_TIER_1_COUNTIES = (
    ("Langfang", "Sanhe"), ("Langfang", "Gu'an"), ("Langfang", "Bazhou"),
    ("Baoding", "Zhuozhou"), ("Cangzhou", "Renqiu"), ("Baoding", "Xiongxian"),
    ("Baoding", "Rongcheng"), ("Baoding", "Anxin"),
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "tax_table_entries",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=True),
        sa.Column("pollutant", sa.String(length=24), nullable=True),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("county", sa.String(length=64), nullable=True),
        sa.Column("value", sa.String(length=32), nullable=True),
        sa.Column("recorded_by", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(SHAPES, name=op.f("ck_tax_table_entries_shape")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_tax_table_entries")),
        sa.UniqueConstraint("id", name=op.f("uq_tax_table_entries_id")),
    )
    op.create_table(
        "tax_return_schedules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("return_id", sa.String(length=48), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["tax_returns.id"],
            name=op.f("fk_tax_return_schedules_return_id_tax_returns"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_return_schedules")),
        sa.UniqueConstraint(
            "return_id", "month", name=op.f("uq_tax_return_schedules_return_id_month")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()
    _seed()


def _seed_rows() -> list[dict[str, str | None]]:
    rows: list[dict[str, str | None]] = [
        {"kind": "equivalent", "pollutant": pollutant, "value": kg}
        for pollutant, kg in EQUIVALENTS.items()
    ]
    rows += [
        {"kind": "rate", "scheme": scheme, "tier": tier, "category": category, "value": rate}
        for (scheme, tier), rates in RATES.items()
        for category, rate in zip(CATEGORIES, rates, strict=True)
    ]
    places = [(city, "", tier) for city, tier in HEBEI_CITIES.items()]
    places += [(city, county, "1") for city, county in HEBEI_TIER_1_COUNTIES]
    rows += [
        {"kind": "membership", "city": city, "county": county, "scheme": "hebei", "tier": tier}
        for city, county, tier in places
    ]
    return rows


def _id(row: dict[str, str | None]) -> str:
    """The domain's `tax_tables.entry_id`: kind and subject, then the date."""
    if row["kind"] == "rate":
        subject = [row["scheme"], row["tier"], row["category"]]
    elif row["kind"] == "equivalent":
        subject = [row["pollutant"]]
    else:
        subject = [row["city"], row["county"]]
    text = "-".join(str(part) for part in [row["kind"], *subject, VALID_FROM.isoformat()])
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:64]


def _seed() -> None:
    columns = ("scheme", "tier", "category", "pollutant", "city", "county", "value")
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    rows = [
        {
            "id": _id(row),
            "kind": row["kind"],
            "recorded_by": SEEDED_BY,
            **{name: row.get(name) for name in columns},
        }
        for row in _seed_rows()
    ]
    for row in rows:
        values = {**row, "valid_from": VALID_FROM}
        names = ", ".join([*values, "recorded_at"])
        params = ", ".join([*(f":{name}" for name in values), now])
        statement = sa.text(
            f"INSERT INTO tax_table_entries ({names}) VALUES ({params})"  # noqa: S608
        ).bindparams(sa.bindparam("valid_from", type_=sa.Date()))
        op.get_bind().execute(statement, values)


def _postgresql_triggers() -> None:
    # ledger_refuse_change() (0001) and ledger_record_changed() (0010) exist already.
    for table, chain, column in CHAINED:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_chained AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{chain}', '{column}')"
        )


def _sqlite_triggers() -> None:
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    for table, chain, column in CHAINED:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'tax records are immutable: {operation} on "
                f"{table} refused'); END"
            )
        # As 0010 made them (an UPDATE or DELETE is refused before these could run).
        new = f"SELECT '{chain}', CAST(NEW.{column} AS TEXT), {SQLITE_NOW}"
        old = f"SELECT '{chain}', CAST(OLD.{column} AS TEXT), {SQLITE_NOW}"
        bodies = {
            "insert": f"{insert} {new};",
            "update": f"{insert} {new}; {insert} {old} WHERE OLD.{column} IS NOT NEW.{column};",
            "delete": f"{insert} {old};",
        }
        for operation, body in bodies.items():
            op.execute(
                f"CREATE TRIGGER {table}_chained_{operation} AFTER {operation.upper()} "
                f"ON {table} BEGIN {body} END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, chain, _ in CHAINED:
        if postgresql:
            op.execute(f"DROP TRIGGER {table}_chained ON {table}")
            op.execute(f"DROP TRIGGER {table}_immutable ON {table}")
        else:
            for operation in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_chained_{operation}")
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{operation}")
        op.execute(f"DELETE FROM record_changes WHERE chain = '{chain}'")  # noqa: S608
    op.drop_table("tax_return_schedules")
    op.drop_table("tax_table_entries")
