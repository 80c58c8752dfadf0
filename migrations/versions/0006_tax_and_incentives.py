"""Environmental tax: quarterly returns and their lines, incentive bases, incentives booked in the
ledger, their reversals, and verified reductions.

The database guards what must never break, on both databases:
- filed returns, their lines, incentive bases, incentives, reversals, voids and verified
  reductions are append-only: triggers refuse UPDATE and DELETE;
- an incentive never exceeds its basis: a CHECK `amount_fen <= basis_fen`, where `basis_fen` is
  bound to the basis's cap by a composite foreign key, and a trigger that refuses an incentive
  taking the active (not reversed) incentives of its basis above the cap, or resting on a
  basis voided because its report was invalidated (PostgreSQL: the trigger first locks the
  basis row, so concurrent bookings on one basis are checked one after the other).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = (
    "tax_returns",
    "tax_return_lines",
    "incentive_bases",
    "incentive_basis_reports",
    "incentive_basis_voids",
    "incentives",
    "incentive_reversals",
    "verified_reductions",
)
OVER_BASIS = "incentive exceeds what its verified basis supports"

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _returns()
    _bases()
    _incentives()
    _reductions()
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


def _party() -> sa.Column[str]:
    return sa.Column("party_code", sa.String(length=32), nullable=False)


def _party_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["party_code"],
        ["parties.code"],
        name=op.f(f"fk_{table}_party_code_parties"),
        ondelete="RESTRICT",
    )


def _returns() -> None:
    op.create_table(
        "tax_returns",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=48), nullable=False),
        _party(),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("report_ids", sa.JSON(), nullable=False),
        sa.Column("total_before_fen", sa.BigInteger(), nullable=False),
        sa.Column("total_due_fen", sa.BigInteger(), nullable=False),
        sa.Column("total_reduction_fen", sa.BigInteger(), nullable=False),
        sa.Column("supersedes", sa.String(length=48), nullable=True),
        sa.Column("filed_by", sa.String(length=40), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quarter BETWEEN 1 AND 4", name=op.f("ck_tax_returns_quarter")),
        sa.CheckConstraint(
            "total_due_fen >= 0 AND total_reduction_fen >= 0",
            name=op.f("ck_tax_returns_not_negative"),
        ),
        sa.CheckConstraint(
            "total_before_fen = total_due_fen + total_reduction_fen",
            name=op.f("ck_tax_returns_before_is_due_plus_reduction"),
        ),
        _party_fk("tax_returns"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_tax_returns")),
        sa.UniqueConstraint("id", name=op.f("uq_tax_returns_id")),
        sa.UniqueConstraint(
            "party_code",
            "year",
            "quarter",
            "version",
            name=op.f("uq_tax_returns_party_code_year_quarter_version"),
        ),
    )
    op.create_table(
        "tax_return_lines",
        sa.Column("return_id", sa.String(length=48), nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("report_id", sa.String(length=48), nullable=True),
        sa.Column("outlet_code", sa.String(length=64), nullable=False),
        sa.Column("pollutant", sa.String(length=24), nullable=False),
        sa.Column("mass_kg", sa.String(length=48), nullable=False),
        sa.Column("equivalents", sa.String(length=200), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("taxed", sa.Boolean(), nullable=False),
        sa.Column("rate", sa.String(length=16), nullable=False),
        sa.Column("ratio", sa.String(length=1000), nullable=True),
        sa.Column("factor", sa.String(length=8), nullable=False),
        sa.Column("disqualifications", sa.JSON(), nullable=False),
        sa.Column("tax_before_fen", sa.BigInteger(), nullable=False),
        sa.Column("tax_due_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "tax_due_fen >= 0 AND tax_due_fen <= tax_before_fen",
            name=op.f("ck_tax_return_lines_due_within"),
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["tax_returns.id"],
            name=op.f("fk_tax_return_lines_return_id_tax_returns"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("return_id", "line_no", name=op.f("pk_tax_return_lines")),
        sa.UniqueConstraint(
            "return_id",
            "month",
            "outlet_code",
            "pollutant",
            name=op.f("uq_tax_return_lines_return_id_month_outlet_code_pollutant"),
        ),
    )


def _bases() -> None:
    op.create_table(
        "incentive_bases",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        _party(),
        sa.Column("cap_fen", sa.BigInteger(), nullable=False),
        sa.Column("return_id", sa.String(length=48), nullable=True),
        sa.Column("equipment_id", sa.String(length=64), nullable=True),
        sa.Column("acquired_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cap_fen >= 0", name=op.f("ck_incentive_bases_cap_not_negative")),
        sa.CheckConstraint(
            "kind IN ('article13_reduction', 'equipment_credit')",
            name=op.f("ck_incentive_bases_kind"),
        ),
        _party_fk("incentive_bases"),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["tax_returns.id"],
            name=op.f("fk_incentive_bases_return_id_tax_returns"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incentive_bases")),
        sa.UniqueConstraint("id", "cap_fen", name=op.f("uq_incentive_bases_id_cap_fen")),
    )
    op.create_table(
        "incentive_basis_reports",
        sa.Column("basis_id", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.String(length=48), nullable=False),
        sa.ForeignKeyConstraint(
            ["basis_id"],
            ["incentive_bases.id"],
            name=op.f("fk_incentive_basis_reports_basis_id_incentive_bases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["emission_reports.id"],
            name=op.f("fk_incentive_basis_reports_report_id_emission_reports"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("basis_id", "report_id", name=op.f("pk_incentive_basis_reports")),
    )
    op.create_index(
        "ix_incentive_basis_reports_report_id", "incentive_basis_reports", ["report_id"]
    )
    op.create_table(
        "incentive_basis_voids",
        sa.Column("basis_id", sa.String(length=64), nullable=False),
        sa.Column("report_id", sa.String(length=48), nullable=True),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["basis_id"],
            ["incentive_bases.id"],
            name=op.f("fk_incentive_basis_voids_basis_id_incentive_bases"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("basis_id", name=op.f("pk_incentive_basis_voids")),
    )


def _incentives() -> None:
    op.create_table(
        "incentives",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("basis_id", sa.String(length=64), nullable=False),
        sa.Column("basis_fen", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        _party(),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.String(length=128), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_incentives_amount_positive")),
        sa.CheckConstraint(
            "amount_fen <= basis_fen", name=op.f("ck_incentives_amount_within_basis")
        ),
        sa.ForeignKeyConstraint(
            ["basis_id", "basis_fen"],
            ["incentive_bases.id", "incentive_bases.cap_fen"],
            name=op.f("fk_incentives_basis_id_incentive_bases"),
            ondelete="RESTRICT",
        ),
        _party_fk("incentives"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_incentives")),
        sa.UniqueConstraint("id", name=op.f("uq_incentives_id")),
    )
    op.create_index("ix_incentives_basis_id", "incentives", ["basis_id"])
    op.create_index("ix_incentives_party_code", "incentives", ["party_code"])
    op.create_table(
        "incentive_reversals",
        sa.Column("incentive_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("report_id", sa.String(length=48), nullable=True),
        sa.Column("entry_id", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.String(length=400), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('report_invalidated', 'clawback')",
            name=op.f("ck_incentive_reversals_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["incentive_id"],
            ["incentives.id"],
            name=op.f("fk_incentive_reversals_incentive_id_incentives"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("incentive_id", name=op.f("pk_incentive_reversals")),
    )


def _reductions() -> None:
    op.create_table(
        "verified_reductions",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        _party(),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.String(length=48), nullable=True),
        sa.Column("baseline_kind", sa.String(length=24), nullable=False),
        sa.Column("baseline_kg", sa.String(length=48), nullable=False),
        sa.Column("baseline_hours", sa.Integer(), nullable=False),
        sa.Column("actual_kg", sa.String(length=48), nullable=False),
        sa.Column("actual_hours", sa.Integer(), nullable=False),
        sa.Column("reduction_kg", sa.BigInteger(), nullable=False),
        sa.Column("released_units", sa.BigInteger(), nullable=False),
        sa.Column("release", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reduction_kg >= 0", name=op.f("ck_verified_reductions_reduction_not_negative")
        ),
        sa.CheckConstraint(
            "released_units >= 0 AND released_units <= reduction_kg",
            name=op.f("ck_verified_reductions_release_within_reduction"),
        ),
        sa.CheckConstraint(
            "release IN ('reserve', 'tradable', 'none')",
            name=op.f("ck_verified_reductions_release"),
        ),
        _party_fk("verified_reductions"),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["emission_reports.id"],
            name=op.f("fk_verified_reductions_report_id_emission_reports"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_verified_reductions")),
        sa.UniqueConstraint("id", name=op.f("uq_verified_reductions_id")),
    )


_ACTIVE_SUM = (
    "SELECT COALESCE(SUM(i.amount_fen), 0) FROM incentives i "
    "WHERE i.basis_id = NEW.basis_id AND NOT EXISTS "
    "(SELECT 1 FROM incentive_reversals r WHERE r.incentive_id = i.id)"
)
_VOIDED = "EXISTS (SELECT 1 FROM incentive_basis_voids v WHERE v.basis_id = NEW.basis_id)"


def _postgresql_guards() -> None:
    # ledger_refuse_change() exists since 0001: it refuses any UPDATE or DELETE.
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    op.execute(
        f"""
        CREATE FUNCTION ledger_check_incentive_within_basis() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            cap BIGINT;
        BEGIN
            -- The row lock queues bookings on one basis, so each sum sees the one before.
            SELECT cap_fen INTO cap FROM incentive_bases WHERE id = NEW.basis_id FOR UPDATE;
            IF {_VOIDED} OR ({_ACTIVE_SUM}) + NEW.amount_fen > cap THEN
                RAISE EXCEPTION '{OVER_BASIS}: % on %', NEW.id, NEW.basis_id
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$
        """  # noqa: S608 - constant SQL of this module, no input
    )
    op.execute(
        "CREATE TRIGGER incentives_within_basis BEFORE INSERT ON incentives "
        "FOR EACH ROW EXECUTE FUNCTION ledger_check_incentive_within_basis()"
    )


def _sqlite_guards() -> None:
    for table in APPEND_ONLY:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'tax records are immutable: {operation} on "
                f"{table} refused'); END"
            )
    # SQLite has one writer at a time: the sum cannot race.
    op.execute(
        "CREATE TRIGGER incentives_within_basis BEFORE INSERT ON incentives "  # noqa: S608
        f"WHEN {_VOIDED} OR ({_ACTIVE_SUM}) + NEW.amount_fen > "
        "(SELECT cap_fen FROM incentive_bases WHERE id = NEW.basis_id) "
        f"BEGIN SELECT RAISE(ABORT, '{OVER_BASIS}'); END"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP TRIGGER incentives_within_basis ON incentives")
        op.execute("DROP FUNCTION ledger_check_incentive_within_basis()")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_immutable ON {table}")
    else:
        op.execute("DROP TRIGGER incentives_within_basis")
        for table in APPEND_ONLY:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{operation}")
    op.drop_table("verified_reductions")
    op.drop_table("incentive_reversals")
    op.drop_index("ix_incentives_party_code", table_name="incentives")
    op.drop_index("ix_incentives_basis_id", table_name="incentives")
    op.drop_table("incentives")
    op.drop_table("incentive_basis_voids")
    op.drop_index("ix_incentive_basis_reports_report_id", table_name="incentive_basis_reports")
    op.drop_table("incentive_basis_reports")
    op.drop_table("incentive_bases")
    op.drop_table("tax_return_lines")
    op.drop_table("tax_returns")
