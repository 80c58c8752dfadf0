"""The double-entry core: instruments, accounts, balances, entries, postings, references.

Besides the tables, the database itself guards the journal: triggers refuse any UPDATE or
DELETE of entries, postings and references (both databases), and on PostgreSQL a deferred
constraint trigger refuses to commit an entry whose postings do not balance per instrument.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING_ONLY = sa.text("status = 'pending'")
JOURNAL_TABLES = ("entries", "postings", "entry_references")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_type", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("reverses_seq", ID, nullable=True),
        sa.Column("pending_seq", ID, nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('posted', 'pending', 'voided', 'expired')", name=op.f("ck_entries_status")
        ),
        sa.CheckConstraint(
            "status NOT IN ('voided', 'expired') OR pending_seq IS NOT NULL",
            name=op.f("ck_entries_resolves_pending"),
        ),
        sa.ForeignKeyConstraint(
            ["pending_seq"],
            ["entries.seq"],
            name=op.f("fk_entries_pending_seq_entries"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reverses_seq"],
            ["entries.seq"],
            name=op.f("fk_entries_reverses_seq_entries"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_entries")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_entries_entry_id")),
        sa.UniqueConstraint("pending_seq", name=op.f("uq_entries_pending_seq")),
        sa.UniqueConstraint("reverses_seq", name=op.f("uq_entries_reverses_seq")),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entries_pending_expiry",
            ["expires_at"],
            unique=False,
            postgresql_where=PENDING_ONLY,
            sqlite_where=PENDING_ONLY,
        )

    op.create_table(
        "instruments",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("scale", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('cash', 'emission_right', 'carbon_allowance', 'offset')",
            name=op.f("ck_instruments_kind"),
        ),
        sa.CheckConstraint("scale BETWEEN 0 AND 9", name=op.f("ck_instruments_scale")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_instruments")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("normal_side", sa.String(length=6), nullable=False),
        sa.Column("non_negative", sa.Boolean(), nullable=False),
        sa.Column("instrument_code", sa.String(length=32), nullable=True),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "normal_side IN ('debit', 'credit')", name=op.f("ck_accounts_normal_side")
        ),
        sa.ForeignKeyConstraint(
            ["instrument_code"],
            ["instruments.code"],
            name=op.f("fk_accounts_instrument_code_instruments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_accounts_code")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_party"), ["party"], unique=False)

    op.create_table(
        "entry_references",
        sa.Column("entry_seq", ID, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_seq"],
            ["entries.seq"],
            name=op.f("fk_entry_references_entry_seq_entries"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("entry_seq", "kind", "reference", name=op.f("pk_entry_references")),
    )
    with op.batch_alter_table("entry_references", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entry_references_kind_reference", ["kind", "reference"], unique=False
        )

    op.create_table(
        "balances",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("instrument_code", sa.String(length=32), nullable=False),
        sa.Column("normal_side", sa.String(length=6), nullable=False),
        sa.Column("non_negative", sa.Boolean(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "NOT non_negative"
            " OR (normal_side = 'debit' AND debits_posted - credits_posted - credits_pending >= 0)"
            " OR (normal_side = 'credit' AND credits_posted - debits_posted - debits_pending >= 0)",
            name=op.f("ck_balances_non_negative"),
        ),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0"
            " AND credits_pending >= 0",
            name=op.f("ck_balances_counters_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_balances_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["instrument_code"],
            ["instruments.code"],
            name=op.f("fk_balances_instrument_code_instruments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "instrument_code", name=op.f("pk_balances")),
    )
    op.create_table(
        "postings",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("entry_seq", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("instrument_code", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=6), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("debits_after", sa.BigInteger(), nullable=True),
        sa.Column("credits_after", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("side IN ('debit', 'credit')", name=op.f("ck_postings_side")),
        sa.CheckConstraint(
            "pending OR (debits_after IS NOT NULL AND credits_after IS NOT NULL)",
            name=op.f("ck_postings_running_balance"),
        ),
        sa.CheckConstraint("units > 0", name=op.f("ck_postings_units_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_postings_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["entry_seq"],
            ["entries.seq"],
            name=op.f("fk_postings_entry_seq_entries"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["instrument_code"],
            ["instruments.code"],
            name=op.f("fk_postings_instrument_code_instruments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postings")),
    )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_postings_account_effective",
            ["account_id", "instrument_code", "effective_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_postings_account_recorded",
            ["account_id", "instrument_code", "recorded_at", "id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_postings_entry_seq"), ["entry_seq"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        _create_postgresql_guards()
    else:
        _create_sqlite_guards()


def _create_postgresql_guards() -> None:
    op.execute(
        """
        CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'journal records are immutable: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END $$
        """
    )
    for table in JOURNAL_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    # Checked at commit, once all postings of the entry are in (django-hordak's approach).
    op.execute(
        """
        CREATE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (
                SELECT 1 FROM postings WHERE entry_seq = NEW.entry_seq
                GROUP BY instrument_code
                HAVING sum(CASE WHEN side = 'debit' THEN units ELSE -units END) <> 0
            ) THEN
                RAISE EXCEPTION 'entry % does not balance per instrument', NEW.entry_seq
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced()"
    )


def _create_sqlite_guards() -> None:
    # SQLite has no deferred triggers: the unit of work checks balance before each commit.
    for table in JOURNAL_TABLES:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'journal records are immutable: {operation} on "
                f"{table} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER postings_balanced ON postings")
        for table in JOURNAL_TABLES:
            op.execute(f"DROP TRIGGER {table}_immutable ON {table}")
        op.execute("DROP FUNCTION ledger_check_entry_balanced()")
        op.execute("DROP FUNCTION ledger_refuse_change()")
    else:
        for table in JOURNAL_TABLES:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{operation}")
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postings_entry_seq"))
        batch_op.drop_index("ix_postings_account_recorded")
        batch_op.drop_index("ix_postings_account_effective")

    op.drop_table("postings")
    op.drop_table("balances")
    with op.batch_alter_table("entry_references", schema=None) as batch_op:
        batch_op.drop_index("ix_entry_references_kind_reference")

    op.drop_table("entry_references")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_party"))

    op.drop_table("accounts")
    op.drop_table("instruments")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_entries_pending_expiry",
            postgresql_where=PENDING_ONLY,
            sqlite_where=PENDING_ONLY,
        )

    op.drop_table("entries")
