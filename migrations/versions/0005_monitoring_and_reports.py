"""Monitoring: CEMS hourly records, monthly aggregates and emission reports.

`cems_hours` is append-only (triggers refuse UPDATE and DELETE). Emission reports are guarded
by triggers on both databases: a report's lines can be inserted or deleted only while it is a
draft and are never updated; a report leaves draft only along the workflow's transitions, and
once submitted its identity and submission, once decided its decision, once invalidated its
invalidation can no longer change. Deleting a report is refused unless it is a draft.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

# ruff: noqa: S608 - trigger DDL from module constants only

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FLAGS = "'N','F','M','C','D','P','T','S','B'"
STATUSES = "'draft','submitted','verified','rejected','superseded','invalidated'"
METHODS = "'cems','agency','coefficient','estimate'"
TRANSITIONS = (
    ("draft", "submitted"),
    ("submitted", "verified"),
    ("submitted", "rejected"),
    ("verified", "invalidated"),
    ("verified", "superseded"),
    ("rejected", "superseded"),
    ("invalidated", "superseded"),
)
IDENTITY = (
    "id",
    "party_code",
    "period",
    "first_month",
    "last_month",
    "version",
    "supersedes",
    "created_by",
    "created_at",
    "submitted_by",
    "submitted_at",
)
DECISION = ("decided_by", "decided_at", "decision_note")
INVALIDATION = ("invalidated_by", "invalidated_at", "invalidation_reason")
DECIDED = "('verified','rejected','superseded','invalidated')"
# (trigger name, condition on OLD/NEW, message): each refuses an UPDATE of emission_reports.
REPORT_GUARDS = (
    ("transition", "NEW.status <> OLD.status AND {transition_refused}", "not a workflow step"),
    ("identity", "OLD.status <> 'draft' AND ({identity})", "submitted reports are fixed"),
    ("decision", f"OLD.status IN {DECIDED} AND ({{decision}})", "decisions are fixed"),
    (
        "invalidation",
        "OLD.status IN ('invalidated','superseded') AND ({invalidation})",
        "invalidations are fixed",
    ),
)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _cems_imports()
    _cems_hours()
    _cems_months()
    _emission_reports()
    _emission_report_lines()
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


def _cems_imports() -> None:
    op.create_table(
        "cems_imports",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("sha256", sa.CHAR(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=40), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cems_imports")),
        sa.UniqueConstraint("sha256", name=op.f("uq_cems_imports_sha256")),
    )


def _cems_hours() -> None:
    op.create_table(
        "cems_hours",
        sa.Column("outlet_seq", ID, nullable=False),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("concentration", sa.BigInteger(), nullable=False),
        sa.Column("dry_flow", sa.BigInteger(), nullable=False),
        sa.Column("o2", sa.Integer(), nullable=False),
        sa.Column("valid_minutes", sa.Integer(), nullable=False),
        sa.Column("flag", sa.CHAR(length=1), nullable=False),
        sa.Column("import_seq", ID, nullable=False),
        sa.CheckConstraint(
            "concentration >= 0 AND dry_flow >= 0", name=op.f("ck_cems_hours_values_not_negative")
        ),
        sa.CheckConstraint("o2 >= 0 AND o2 < 2100", name=op.f("ck_cems_hours_o2_below_ambient")),
        sa.CheckConstraint(
            "valid_minutes BETWEEN 0 AND 60", name=op.f("ck_cems_hours_valid_minutes")
        ),
        sa.CheckConstraint(f"flag IN ({FLAGS})", name=op.f("ck_cems_hours_flag")),
        sa.ForeignKeyConstraint(
            ["import_seq"],
            ["cems_imports.seq"],
            name=op.f("fk_cems_hours_import_seq_cems_imports"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["outlet_seq"],
            ["outlets.seq"],
            name=op.f("fk_cems_hours_outlet_seq_outlets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("outlet_seq", "pollutant", "hour", name=op.f("pk_cems_hours")),
        sqlite_with_rowid=False,
    )


def _cems_months() -> None:
    op.create_table(
        "cems_months",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("outlet_seq", ID, nullable=False),
        sa.Column("pollutant", sa.String(length=16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("hours_received", sa.Integer(), nullable=False),
        sa.Column("valid_hours", sa.Integer(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("valid_days_required", sa.Integer(), nullable=False),
        sa.Column("month_valid", sa.Boolean(), nullable=False),
        sa.Column("mass_kg", sa.String(length=48), nullable=False),
        sa.Column("mean_measured", sa.Text(), nullable=True),
        sa.Column("mean_on_standard_basis", sa.Text(), nullable=True),
        sa.Column("standard_mg", sa.String(length=16), nullable=True),
        sa.Column("reference_o2", sa.String(length=16), nullable=True),
        sa.Column("exceedances", sa.Integer(), nullable=False),
        sa.Column("first_exceedance", sa.DateTime(timezone=True), nullable=True),
        sa.Column("over_range_hours", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["outlet_seq"],
            ["outlets.seq"],
            name=op.f("fk_cems_months_outlet_seq_outlets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cems_months")),
        sa.UniqueConstraint(
            "outlet_seq",
            "pollutant",
            "month",
            name=op.f("uq_cems_months_outlet_seq_pollutant_month"),
        ),
    )


def _emission_reports() -> None:
    op.create_table(
        "emission_reports",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("party_code", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("first_month", sa.Date(), nullable=False),
        sa.Column("last_month", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes", sa.String(length=48), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(length=40), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=False),
        sa.Column("invalidated_by", sa.String(length=40), nullable=True),
        sa.Column("invalidated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("invalidation_reason", sa.String(length=500), nullable=False),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_emission_reports_status")),
        sa.CheckConstraint(
            "version >= 1 AND (version = 1) = (supersedes IS NULL)",
            name=op.f("ck_emission_reports_version"),
        ),
        sa.CheckConstraint(
            "decided_by IS NULL OR decided_by <> submitted_by",
            name=op.f("ck_emission_reports_four_eyes"),
        ),
        sa.CheckConstraint(
            "status IN ('draft') OR submitted_by IS NOT NULL",
            name=op.f("ck_emission_reports_submitted_unless_draft"),
        ),
        sa.ForeignKeyConstraint(
            ["party_code"],
            ["parties.code"],
            name=op.f("fk_emission_reports_party_code_parties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["supersedes"],
            ["emission_reports.id"],
            name=op.f("fk_emission_reports_supersedes_emission_reports"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_emission_reports")),
        sa.UniqueConstraint("id", name=op.f("uq_emission_reports_id")),
        sa.UniqueConstraint(
            "party_code",
            "period",
            "version",
            name=op.f("uq_emission_reports_party_code_period_version"),
        ),
        sa.UniqueConstraint("supersedes", name=op.f("uq_emission_reports_supersedes")),
    )
    op.create_index(
        "ix_emission_reports_party_code_first_month",
        "emission_reports",
        ["party_code", "first_month"],
    )


def _emission_report_lines() -> None:
    op.create_table(
        "emission_report_lines",
        sa.Column("report_id", sa.String(length=48), nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("outlet_code", sa.String(length=64), nullable=False),
        sa.Column("pollutant", sa.String(length=24), nullable=False),
        sa.Column("measured_as", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=12), nullable=False),
        sa.Column("mass_kg", sa.String(length=48), nullable=False),
        sa.Column("mean_concentration", sa.Text(), nullable=True),
        sa.Column("standard_mg", sa.String(length=16), nullable=True),
        sa.Column("reference_o2", sa.String(length=16), nullable=True),
        sa.Column("exceedances", sa.Integer(), nullable=False),
        sa.Column("month_valid", sa.Boolean(), nullable=False),
        sa.Column("valid_hours", sa.Integer(), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.CheckConstraint(f"method IN ({METHODS})", name=op.f("ck_emission_report_lines_method")),
        sa.CheckConstraint(
            "exceedances >= 0", name=op.f("ck_emission_report_lines_exceedances_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["emission_reports.id"],
            name=op.f("fk_emission_report_lines_report_id_emission_reports"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("report_id", "line_no", name=op.f("pk_emission_report_lines")),
        sa.UniqueConstraint(
            "report_id",
            "month",
            "outlet_code",
            "pollutant",
            name=op.f("uq_emission_report_lines_report_id_month_outlet_code_pollutant"),
        ),
    )


# -- guards ----------------------------------------------------------------------------------


def _changed(columns: Sequence[str], distinct: str) -> str:
    return " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in columns)


def _report_conditions(distinct: str) -> list[tuple[str, str, str]]:
    pairs = ", ".join(f"'{old}>{new}'" for old, new in TRANSITIONS)
    parts = {
        "transition_refused": f"(OLD.status || '>' || NEW.status) NOT IN ({pairs})",
        "identity": _changed(IDENTITY, distinct),
        "decision": _changed(DECISION, distinct),
        "invalidation": _changed(INVALIDATION, distinct),
    }
    return [(name, cond.format(**parts), message) for name, cond, message in REPORT_GUARDS]


def _postgresql_guards() -> None:
    op.execute(
        """
        CREATE FUNCTION ledger_refuse_with_reason() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% on % refused: %', TG_OP, TG_TABLE_NAME, TG_ARGV[0];
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER cems_hours_immutable BEFORE UPDATE OR DELETE ON cems_hours "
        "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_with_reason('CEMS hours are immutable')"
    )
    for name, condition, message in _report_conditions("IS DISTINCT FROM"):
        op.execute(
            f"CREATE TRIGGER emission_reports_{name} BEFORE UPDATE ON emission_reports "
            f"FOR EACH ROW WHEN ({condition}) "
            f"EXECUTE FUNCTION ledger_refuse_with_reason('{message}')"
        )
    op.execute(
        "CREATE TRIGGER emission_reports_no_delete BEFORE DELETE ON emission_reports "
        "FOR EACH ROW WHEN (OLD.status <> 'draft') "
        "EXECUTE FUNCTION ledger_refuse_with_reason('only drafts can be deleted')"
    )
    op.execute(
        """
        CREATE FUNCTION ledger_report_lines_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            report text := CASE WHEN TG_OP = 'DELETE' THEN OLD.report_id ELSE NEW.report_id END;
            state text;
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                RAISE EXCEPTION 'UPDATE on emission_report_lines refused: lines are immutable';
            END IF;
            SELECT status INTO state FROM emission_reports WHERE id = report;
            IF state IS DISTINCT FROM 'draft' THEN
                RAISE EXCEPTION '% on emission_report_lines refused: report % is %',
                    TG_OP, report, state;
            END IF;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER emission_report_lines_guard BEFORE INSERT OR UPDATE OR DELETE "
        "ON emission_report_lines FOR EACH ROW EXECUTE FUNCTION ledger_report_lines_guard()"
    )


def _sqlite_raise(message: str) -> str:
    return f"BEGIN SELECT RAISE(ABORT, '{message}'); END"


def _sqlite_guards() -> None:
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER cems_hours_no_{operation.lower()} BEFORE {operation} ON cems_hours "
            + _sqlite_raise(f"{operation} on cems_hours refused: CEMS hours are immutable")
        )
    for name, condition, message in _report_conditions("IS NOT"):
        op.execute(
            f"CREATE TRIGGER emission_reports_{name} BEFORE UPDATE ON emission_reports "
            f"WHEN {condition} " + _sqlite_raise(f"UPDATE on emission_reports refused: {message}")
        )
    op.execute(
        "CREATE TRIGGER emission_reports_no_delete BEFORE DELETE ON emission_reports "
        "WHEN OLD.status <> 'draft' "
        + _sqlite_raise("DELETE on emission_reports refused: only drafts can be deleted")
    )
    op.execute(
        "CREATE TRIGGER emission_report_lines_no_update BEFORE UPDATE ON emission_report_lines "
        + _sqlite_raise("UPDATE on emission_report_lines refused: lines are immutable")
    )
    for operation, row in (("INSERT", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER emission_report_lines_{operation.lower()}_draft_only "
            f"BEFORE {operation} ON emission_report_lines WHEN (SELECT status FROM "
            f"emission_reports WHERE id = {row}.report_id) IS NOT 'draft' "
            + _sqlite_raise(
                f"{operation} on emission_report_lines refused: the report is not a draft"
            )
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP TRIGGER emission_report_lines_guard ON emission_report_lines")
        op.execute("DROP FUNCTION ledger_report_lines_guard()")
    op.drop_table("emission_report_lines")
    op.drop_index("ix_emission_reports_party_code_first_month", table_name="emission_reports")
    op.drop_table("emission_reports")  # its triggers go with it
    op.drop_table("cems_months")
    op.drop_table("cems_hours")
    op.drop_table("cems_imports")
    if postgresql:
        op.execute("DROP FUNCTION ledger_refuse_with_reason()")
