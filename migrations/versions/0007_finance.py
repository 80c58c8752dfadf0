"""Finance: period close, external statements and reconciliation.

Guards in the database, on both backends:
- `entries_period_open`: refuses an entry effective in a closed period (PostgreSQL names the
  period in the message: `period_closed:2026-03`). A close takes `LOCK TABLE entries IN SHARE
  MODE` first, so an entry racing it either committed before the close or meets this trigger.
- imported statements (`statement_imports`, `statement_lines`) are never updated or deleted;
- a confirmed reconciliation, its matches and their items are frozen (`reconciliation_confirmed`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
IMMUTABLE = ("statement_imports", "statement_lines")

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _check(expression: str, table: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(expression, name=op.f(f"ck_{table}_{name}"))


def upgrade() -> None:
    _create_period_tables()
    _create_statement_tables()
    _create_reconciliation_tables()
    if op.get_bind().dialect.name == "postgresql":
        _create_postgresql_guards()
    else:
        _create_sqlite_guards()


def _create_period_tables() -> None:
    op.create_table(
        "periods",
        sa.Column("label", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("starts_at", INSTANT, nullable=False),
        sa.Column("ends_at", INSTANT, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("closed_by", sa.String(40), nullable=False),
        sa.Column("closed_at", INSTANT, nullable=False),
        sa.Column("entries_at_close", sa.BigInteger(), nullable=False),
        sa.Column("reopened_by", sa.String(40), nullable=True),
        sa.Column("reopened_at", INSTANT, nullable=True),
        sa.Column("reason", sa.String(400), nullable=False),
        _check("state IN ('closed', 'open')", "periods", "state"),
        _check("kind IN ('month', 'quarter', 'year')", "periods", "kind"),
        _check("starts_at < ends_at", "periods", "range"),
        sa.PrimaryKeyConstraint("label", name=op.f("pk_periods")),
    )
    op.create_index("ix_periods_state_starts_at", "periods", ["state", "starts_at"])
    op.create_table(
        "period_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("label", sa.String(8), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("reason", sa.String(400), nullable=False),
        _check("action IN ('close', 'reopen')", "period_events", "action"),
        sa.ForeignKeyConstraint(
            ["label"],
            ["periods.label"],
            name=op.f("fk_period_events_label_periods"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_period_events")),
    )


def _create_statement_tables() -> None:
    op.create_table(
        "statement_imports",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("account_code", sa.String(64), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("currency", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("sha256", sa.CHAR(64), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
        sa.Column("imported_by", sa.String(40), nullable=False),
        sa.Column("imported_at", INSTANT, nullable=False),
        _check("source IN ('bank', 'exchange')", "statement_imports", "source"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_imports")),
        sa.UniqueConstraint("sha256", name=op.f("uq_statement_imports_sha256")),
    )
    op.create_table(
        "statement_lines",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("import_id", sa.String(40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("counterparty", sa.String(200), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("fingerprint", sa.CHAR(64), nullable=False),
        _check("amount_fen <> 0", "statement_lines", "amount_not_zero"),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["statement_imports.id"],
            name=op.f("fk_statement_lines_import_id_statement_imports"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_lines")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_statement_lines_fingerprint")),
        sa.UniqueConstraint(
            "import_id", "line_no", name=op.f("uq_statement_lines_import_id_line_no")
        ),
    )


def _create_reconciliation_tables() -> None:
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("import_id", sa.String(40), nullable=False),
        sa.Column("account_code", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(32), nullable=False),
        sa.Column("amount_tolerance_fen", sa.BigInteger(), nullable=False),
        sa.Column("date_tolerance_days", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("confirmed_by", sa.String(40), nullable=True),
        sa.Column("confirmed_at", INSTANT, nullable=True),
        _check("state IN ('open', 'confirmed')", "reconciliations", "state"),
        _check(
            "amount_tolerance_fen >= 0 AND date_tolerance_days >= 0", "reconciliations", "tolerance"
        ),
        _check(
            "(state = 'confirmed') = (confirmed_by IS NOT NULL)", "reconciliations", "confirmed_by"
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["statement_imports.id"],
            name=op.f("fk_reconciliations_import_id_statement_imports"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliations")),
        sa.UniqueConstraint("import_id", name=op.f("uq_reconciliations_import_id")),
    )
    op.create_table(
        "reconciliation_matches",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("reconciliation_id", sa.String(40), nullable=False),
        sa.Column("method", sa.String(12), nullable=False),
        sa.Column("difference_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(400), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("unmatched_by", sa.String(40), nullable=True),
        sa.Column("unmatched_at", INSTANT, nullable=True),
        sa.Column("unmatch_reason", sa.String(400), nullable=True),
        _check(
            "method IN ('reference', 'amount_date', 'split', 'manual')",
            "reconciliation_matches",
            "method",
        ),
        sa.ForeignKeyConstraint(
            ["reconciliation_id"],
            ["reconciliations.id"],
            name=op.f("fk_reconciliation_matches_reconciliation_id_reconciliations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_matches")),
    )
    op.create_index(
        "ix_reconciliation_matches_reconciliation_id",
        "reconciliation_matches",
        ["reconciliation_id"],
    )
    op.create_table(
        "reconciliation_match_items",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("match_id", ID, nullable=False),
        sa.Column("statement_line_id", ID, nullable=True),
        sa.Column("posting_id", ID, nullable=True),
        _check(
            "(statement_line_id IS NULL) <> (posting_id IS NULL)",
            "reconciliation_match_items",
            "line_or_posting",
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["reconciliation_matches.id"],
            name=op.f("fk_reconciliation_match_items_match_id_reconciliation_matches"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["statement_line_id"],
            ["statement_lines.id"],
            name=op.f("fk_reconciliation_match_items_statement_line_id_statement_lines"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["postings.id"],
            name=op.f("fk_reconciliation_match_items_posting_id_postings"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_match_items")),
    )
    op.create_index(
        "ix_reconciliation_match_items_match_id", "reconciliation_match_items", ["match_id"]
    )


_POSTGRESQL_FUNCTIONS = (
    # One indexed probe of a small table per entry written; names the period.
    """
    CREATE FUNCTION ledger_refuse_closed_period() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE closed text;
    BEGIN
        SELECT label INTO closed FROM periods
         WHERE state = 'closed' AND starts_at <= NEW.effective_at AND NEW.effective_at < ends_at
         ORDER BY starts_at LIMIT 1;
        IF closed IS NOT NULL THEN
            RAISE EXCEPTION 'period_closed:%', closed USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION ledger_refuse_confirmed_change() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        reconciliation text;
        target record;
    BEGIN
        IF TG_OP = 'DELETE' THEN target := OLD; ELSE target := NEW; END IF;
        IF TG_TABLE_NAME = 'reconciliations' THEN
            IF TG_OP = 'DELETE' OR OLD.state = 'confirmed' THEN
                RAISE EXCEPTION 'reconciliation_confirmed: % on reconciliations refused', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END IF;
        IF TG_TABLE_NAME = 'reconciliation_matches' THEN
            reconciliation := target.reconciliation_id;
        ELSE
            IF TG_OP = 'UPDATE' THEN
                RAISE EXCEPTION 'reconciliation_confirmed: match items never change'
                    USING ERRCODE = 'restrict_violation';
            END IF;
            SELECT m.reconciliation_id INTO reconciliation FROM reconciliation_matches AS m
             WHERE m.id = target.match_id;
        END IF;
        IF EXISTS (SELECT 1 FROM reconciliations
                    WHERE id = reconciliation AND state = 'confirmed') THEN
            RAISE EXCEPTION 'reconciliation_confirmed: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN target;
    END $$
    """,
)


def _create_postgresql_guards() -> None:
    for function in _POSTGRESQL_FUNCTIONS:
        op.execute(function)
    op.execute(
        "CREATE TRIGGER entries_period_open BEFORE INSERT ON entries "
        "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_closed_period()"
    )
    for table in IMMUTABLE:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    op.execute(
        "CREATE TRIGGER reconciliations_frozen BEFORE UPDATE OR DELETE ON reconciliations "
        "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_confirmed_change()"
    )
    for table in ("reconciliation_matches", "reconciliation_match_items"):
        op.execute(
            f"CREATE TRIGGER {table}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_confirmed_change()"
        )


_CONFIRMED = "(SELECT state FROM reconciliations WHERE id = {}) = 'confirmed'"
_ITEM_CONFIRMED = _CONFIRMED.format(
    "(SELECT reconciliation_id FROM reconciliation_matches WHERE id = {})"
)
_SQLITE_GUARDS = {
    # SQLite's RAISE takes a constant message: the unit of work names the period itself.
    "entries_period_open": "BEFORE INSERT ON entries WHEN EXISTS (SELECT 1 FROM periods "
    "WHERE state = 'closed' AND starts_at <= NEW.effective_at AND NEW.effective_at < ends_at)",
    "reconciliations_frozen_update": "BEFORE UPDATE ON reconciliations "
    "WHEN OLD.state = 'confirmed'",
    "reconciliations_frozen_delete": "BEFORE DELETE ON reconciliations",
    "reconciliation_matches_frozen_insert": "BEFORE INSERT ON reconciliation_matches WHEN "
    + _CONFIRMED.format("NEW.reconciliation_id"),
    "reconciliation_matches_frozen_update": "BEFORE UPDATE ON reconciliation_matches WHEN "
    + _CONFIRMED.format("OLD.reconciliation_id"),
    "reconciliation_matches_frozen_delete": "BEFORE DELETE ON reconciliation_matches WHEN "
    + _CONFIRMED.format("OLD.reconciliation_id"),
    "reconciliation_match_items_frozen_insert": "BEFORE INSERT ON reconciliation_match_items "
    "WHEN " + _ITEM_CONFIRMED.format("NEW.match_id"),
    "reconciliation_match_items_frozen_update": "BEFORE UPDATE ON reconciliation_match_items",
    "reconciliation_match_items_frozen_delete": "BEFORE DELETE ON reconciliation_match_items "
    "WHEN " + _ITEM_CONFIRMED.format("OLD.match_id"),
}


def _create_sqlite_guards() -> None:
    for name, when in _SQLITE_GUARDS.items():
        message = "period_closed" if name == "entries_period_open" else "reconciliation_confirmed"
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, '{message}'); END")
    for table in IMMUTABLE:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'statements are immutable: {operation} on "
                f"{table} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER entries_period_open ON entries")
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER {table}_immutable ON {table}")
        for table in ("reconciliations", "reconciliation_matches", "reconciliation_match_items"):
            op.execute(f"DROP TRIGGER {table}_frozen ON {table}")
        op.execute("DROP FUNCTION ledger_refuse_closed_period()")
        op.execute("DROP FUNCTION ledger_refuse_confirmed_change()")
    else:
        for name in _SQLITE_GUARDS:
            op.execute(f"DROP TRIGGER {name}")
        for table in IMMUTABLE:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{operation}")
    op.drop_index("ix_reconciliation_match_items_match_id", "reconciliation_match_items")
    op.drop_table("reconciliation_match_items")
    op.drop_index("ix_reconciliation_matches_reconciliation_id", "reconciliation_matches")
    op.drop_table("reconciliation_matches")
    op.drop_table("reconciliations")
    op.drop_table("statement_lines")
    op.drop_table("statement_imports")
    op.drop_table("period_events")
    op.drop_index("ix_periods_state_starts_at", "periods")
    op.drop_table("periods")
