"""Verified reductions are unique per report and pollutant, keep the retrofit month their
baseline was derived from, and are reversed with their report (rules.md §7.8); an incentive
may be reversed because its report was corrected (an amended return, §7.5).

- `verified_reductions`: a unique index on (report_id, pollutant); `retrofit_month`.
- `verified_reduction_reversals`: append-only, one per reduction, part of the `reductions`
  record chain (triggers as in 0010).
- `incentive_reversals.reason` admits `report_corrected`. SQLite rebuilds the table for the
  new CHECK, which drops its triggers: the append-only ones of 0006 and the record-chain ones
  of 0010 are made again, the same as before.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # 0009's fixed form
REASONS = "'report_invalidated', 'clawback'"
REDUCTION_REVERSALS = "verified_reduction_reversals"


def upgrade() -> None:
    _refuse_duplicate_reductions()
    op.add_column("verified_reductions", sa.Column("retrofit_month", sa.Date(), nullable=True))
    op.create_index(
        "ux_verified_reductions_report_id_pollutant",
        "verified_reductions",
        ["report_id", "pollutant"],
        unique=True,
    )
    op.create_table(
        REDUCTION_REVERSALS,
        sa.Column("reduction_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("report_id", sa.String(length=48), nullable=False),
        sa.Column("entry_id", sa.String(length=128), nullable=True),
        sa.Column("restored_units", sa.BigInteger(), nullable=False),
        sa.Column("unrestored_units", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.String(length=400), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('report_invalidated', 'report_corrected')",
            name=op.f("ck_verified_reduction_reversals_reason"),
        ),
        sa.CheckConstraint(
            "restored_units >= 0 AND unrestored_units >= 0",
            name=op.f("ck_verified_reduction_reversals_units_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["reduction_id"],
            ["verified_reductions.id"],
            name=op.f("fk_verified_reduction_reversals_reduction_id_verified_reductions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("reduction_id", name=op.f("pk_verified_reduction_reversals")),
    )
    _incentive_reasons(f"{REASONS}, 'report_corrected'")
    _guards(REDUCTION_REVERSALS, "reductions", "reduction_id")


def _refuse_duplicate_reductions() -> None:
    """Earlier releases let a report carry several reductions of one pollutant: say which,
    rather than fail on the unique index (a regulator reverses the extra ones first)."""
    duplicates = op.get_bind().execute(
        sa.text(
            "SELECT report_id, pollutant FROM verified_reductions WHERE report_id IS NOT NULL "
            "GROUP BY report_id, pollutant HAVING COUNT(*) > 1"
        )
    )
    found = [f"{row.report_id} {row.pollutant}" for row in duplicates]
    if found:
        raise RuntimeError(f"several verified reductions per report and pollutant: {found}")


# 0006's cap on the active incentives of a basis (SQLite): it names incentive_reversals, so
# SQLite refuses the rebuild's rename while it exists; dropped before, made again after.
WITHIN_BASIS = (
    "CREATE TRIGGER incentives_within_basis BEFORE INSERT ON incentives "
    "WHEN EXISTS (SELECT 1 FROM incentive_basis_voids v WHERE v.basis_id = NEW.basis_id) OR "
    "(SELECT COALESCE(SUM(i.amount_fen), 0) FROM incentives i "
    "WHERE i.basis_id = NEW.basis_id AND NOT EXISTS "
    "(SELECT 1 FROM incentive_reversals r WHERE r.incentive_id = i.id)) + NEW.amount_fen > "
    "(SELECT cap_fen FROM incentive_bases WHERE id = NEW.basis_id) "
    "BEGIN SELECT RAISE(ABORT, 'incentive exceeds what its verified basis supports'); END"
)


def _incentive_reasons(reasons: str) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER incentives_within_basis")
    with op.batch_alter_table("incentive_reversals") as batch:
        batch.drop_constraint(op.f("ck_incentive_reversals_reason"), type_="check")
        batch.create_check_constraint(
            op.f("ck_incentive_reversals_reason"), f"reason IN ({reasons})"
        )
    if sqlite:  # the rebuilt table lost its triggers
        op.execute(WITHIN_BASIS)
        _guards("incentive_reversals", "incentives", "incentive_id", replace=True)


def _guards(table: str, chain: str, column: str, *, replace: bool = False) -> None:
    """Append-only (0006) and record-chain (0010) triggers on `table`."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_chained AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{chain}', '{column}')"
        )
        return
    drop = "DROP TRIGGER IF EXISTS {}" if replace else ""
    for operation in ("UPDATE", "DELETE"):
        name = f"{table}_no_{operation.lower()}"
        if drop:
            op.execute(drop.format(name))
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {operation} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'tax records are immutable: {operation} on "
            f"{table} refused'); END"
        )
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    new = f"SELECT '{chain}', CAST(NEW.{column} AS TEXT), {SQLITE_NOW}"
    old = f"SELECT '{chain}', CAST(OLD.{column} AS TEXT), {SQLITE_NOW}"
    bodies = {
        "insert": f"{insert} {new};",
        "update": f"{insert} {new}; {insert} {old} WHERE OLD.{column} IS NOT NEW.{column};",
        "delete": f"{insert} {old};",
    }
    for operation, body in bodies.items():
        name = f"{table}_chained_{operation}"
        if drop:
            op.execute(drop.format(name))
        op.execute(f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} BEGIN {body} END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(f"DROP TRIGGER {REDUCTION_REVERSALS}_immutable ON {REDUCTION_REVERSALS}")
        op.execute(f"DROP TRIGGER {REDUCTION_REVERSALS}_chained ON {REDUCTION_REVERSALS}")
    # Refused (the CHECK) while an incentive was reversed for a corrected report: those
    # reversals are immutable and the older schema cannot say why they were made.
    _incentive_reasons(REASONS)
    op.drop_table(REDUCTION_REVERSALS)  # SQLite drops its triggers with it
    op.drop_index("ux_verified_reductions_report_id_pollutant", table_name="verified_reductions")
    with op.batch_alter_table("verified_reductions") as batch:
        batch.drop_column("retrofit_month")
    if not postgresql:  # the rebuilt table lost its triggers
        _guards("verified_reductions", "reductions", "id", replace=True)
    # Every reduction lost a column and its reversals part: queued to be sealed again.
    now = "clock_timestamp()" if postgresql else SQLITE_NOW
    op.execute(
        "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
        f" SELECT 'reductions', id, {now} FROM verified_reductions"
    )
