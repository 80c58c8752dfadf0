"""Outlet permits and the monitoring network's principals (rules.md §7.4).

- `outlet_permits`: an outlet's standards, reference O2, removal efficiencies and CEMS
  obligation, set by a regulator, each in force from its month on; chained (`permits`).
- Every existing outlet gets a permit from its current standards and reference O2, in force
  from 2000-01 (the first documented month), with no removal efficiency and no CEMS obligation
  stated (a regulator states them with a new permit): an existing database keeps computing as
  before. The outlets lose their `standards` and `reference_o2` columns.
- `principals.role` admits `cems_network`: the monitoring network's service account, which
  delivers CEMS data (enterprises no longer import their own).

SQLite rebuilds the altered tables, which drops their triggers: the record-chain triggers of
0010 on `outlets` (chain `parties`) and `principals` are made again afterwards.

Downgrade: the outlets get back the standards of their latest permit (the others are lost),
and `cems_network` principals are refused by the old CHECK: deactivate and remove them first.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLES = "'regulator','city_authority','enterprise','verifier','finance','administrator'"
MIGRATED_FROM = date(2000, 1, 1)
MIGRATED_BY = "migration-0023"
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form
# (table, chain, key column) of the record-chain triggers this migration makes or remakes.
OUTLETS = ("outlets", "parties", "party_code")
PRINCIPALS = ("principals", "principals", "id")
PERMITS = ("outlet_permits", "permits", "seq")


def upgrade() -> None:
    bind = op.get_bind()
    outlets = bind.execute(
        sa.text("SELECT party_code, outlet_code, standards, reference_o2 FROM outlets")
    ).all()
    with op.batch_alter_table("outlets") as batch:
        batch.drop_column("standards")
        batch.drop_column("reference_o2")
    _roles(f"{ROLES},'cems_network'")
    _permits_table()
    _chain_triggers([OUTLETS, PRINCIPALS], [PERMITS])
    permits = sa.table(
        "outlet_permits",
        *(sa.column(name) for name in ("party_code", "outlet_code", "effective_from")),
        sa.column("standards", sa.JSON()),
        sa.column("reference_o2"),
        sa.column("removal_efficiencies", sa.JSON()),
        *(sa.column(name) for name in ("cems_required", "reference", "set_by", "set_at")),
    )
    now = datetime.now(UTC)
    rows = [
        {
            "party_code": party,
            "outlet_code": outlet,
            "effective_from": MIGRATED_FROM,
            "standards": _json(standards),
            "reference_o2": reference_o2,
            "removal_efficiencies": {},
            "cems_required": False,
            "reference": "outlet standards before permits",
            "set_by": MIGRATED_BY,
            "set_at": now if bind.dialect.name == "postgresql" else now.replace(tzinfo=None),
        }
        for party, outlet, standards, reference_o2 in outlets
    ]
    if rows:
        op.bulk_insert(permits, rows)
    _reseal_parties()


def _reseal_parties() -> None:
    """A party's sealed record includes its outlets, whose columns changed: note every party
    as changed so that the sealer seals it as it now is (not a tampering)."""
    now = "clock_timestamp()" if op.get_bind().dialect.name == "postgresql" else SQLITE_NOW
    op.execute(
        "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
        f" SELECT 'parties', code, {now} FROM parties"
    )


def _json(value: object) -> dict[str, str]:
    """A JSON column as read by a plain SELECT (text on SQLite, a dict on PostgreSQL)."""
    loaded = json.loads(value) if isinstance(value, str) else value
    assert isinstance(loaded, dict), loaded
    return {str(key): str(limit) for key, limit in loaded.items()}


def _permits_table() -> None:
    op.create_table(
        "outlet_permits",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("outlet_code", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("standards", sa.JSON(), nullable=False),
        sa.Column("reference_o2", sa.String(length=16), nullable=True),
        sa.Column("removal_efficiencies", sa.JSON(), nullable=False),
        sa.Column("cems_required", sa.Boolean(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("set_by", sa.String(length=40), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_code", "outlet_code"],
            ["outlets.party_code", "outlets.outlet_code"],
            name=op.f("fk_outlet_permits_party_code_outlets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outlet_permits")),
        sa.UniqueConstraint(
            "party_code",
            "outlet_code",
            "effective_from",
            name=op.f("uq_outlet_permits_party_code_outlet_code_effective_from"),
        ),
    )


def _roles(roles: str) -> None:
    with op.batch_alter_table("principals") as batch:
        batch.drop_constraint(op.f("ck_principals_role_known"), type_="check")
        batch.create_check_constraint(op.f("ck_principals_role_known"), f"role IN ({roles})")


def _chain_triggers(rebuilt: list[tuple[str, str, str]], new: list[tuple[str, str, str]]) -> None:
    """The record-change triggers of 0010: on PostgreSQL for new tables only (its ALTERs keep
    triggers), on SQLite for the rebuilt tables too (they lost theirs)."""
    if op.get_bind().dialect.name == "postgresql":
        for table, chain, column in new:
            op.execute(
                f"CREATE TRIGGER {table}_chained AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{chain}', '{column}')"
            )
        return
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    for table, chain, column in [*rebuilt, *new]:
        new_key = f"SELECT '{chain}', CAST(NEW.{column} AS TEXT), {SQLITE_NOW}"
        old_key = f"SELECT '{chain}', CAST(OLD.{column} AS TEXT), {SQLITE_NOW}"
        bodies = {
            "insert": f"{insert} {new_key};",
            "update": f"{insert} {new_key}; {insert} {old_key} "
            f"WHERE OLD.{column} IS NOT NEW.{column};",
            "delete": f"{insert} {old_key};",
        }
        for operation, body in bodies.items():
            name = f"{table}_chained_{operation}"
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(
                f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} BEGIN {body} END"
            )


def downgrade() -> None:
    bind = op.get_bind()
    latest = bind.execute(
        sa.text(
            "SELECT p.party_code, p.outlet_code, p.standards, p.reference_o2 FROM outlet_permits p "
            "WHERE p.effective_from = (SELECT MAX(q.effective_from) FROM outlet_permits q "
            "WHERE q.party_code = p.party_code AND q.outlet_code = p.outlet_code)"
        )
    ).all()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER outlet_permits_chained ON outlet_permits")
    op.drop_table("outlet_permits")
    _roles(ROLES)
    with op.batch_alter_table("outlets") as batch:
        batch.add_column(sa.Column("standards", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("reference_o2", sa.String(length=16), nullable=True))
    outlets = sa.table(
        "outlets",
        sa.column("party_code"),
        sa.column("outlet_code"),
        sa.column("standards", sa.JSON()),
        sa.column("reference_o2"),
    )
    op.execute(outlets.update().values(standards={}))
    for party, outlet, standards, reference_o2 in latest:
        op.execute(
            outlets.update()
            .where(outlets.c.party_code == party, outlets.c.outlet_code == outlet)
            .values(standards=_json(standards), reference_o2=reference_o2)
        )
    with op.batch_alter_table("outlets") as batch:
        batch.alter_column("standards", existing_type=sa.JSON(), nullable=False)
    _chain_triggers([OUTLETS, PRINCIPALS], [])
    _reseal_parties()
