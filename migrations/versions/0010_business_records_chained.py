"""Every record that matters is chained: `record_chain`, `record_changes` and their triggers.

Journal entries have had their chain since 0003; the business records (trades and their
events, entitlements, pledges, obligations, reports and their lines, returns, incentives,
parties, principals, tokens, approvals, policies, periods, statements, reconciliations, the audit
log, …) get one chain each in `record_chain`, keyed by (chain, seq), each link sealing a version
of a record by its key and digest. Triggers on every chained table note each INSERT, UPDATE and
DELETE in `record_changes` (chain, key of the record the row belongs to), in the writer's own
transaction; the sealer drains that queue. Like the journal's chain, `record_chain` refuses
UPDATE and DELETE by trigger. The records already there are queued, to be sealed by the first
round after the upgrade.

Keep `CHAINED` in step with `ledger.persistence.record_chains.CHAINS` (a test checks it).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
# (table, chain, the column holding the key of the record a row belongs to); a chain's first
# table is its root (the column is the row's own key).
CHAINED = (
    ("trades", "trades", "id"),
    ("trade_events", "trades", "trade_id"),
    ("entitlements", "entitlements", "id"),
    ("pledges", "pledges", "id"),
    ("obligations", "obligations", "id"),
    ("surrenders", "obligations", "obligation_id"),
    ("emission_reports", "reports", "id"),
    ("emission_report_lines", "reports", "report_id"),
    ("verified_reductions", "reductions", "id"),
    ("tax_returns", "returns", "id"),
    ("tax_return_lines", "returns", "return_id"),
    ("incentive_bases", "incentive_bases", "id"),
    ("incentive_basis_reports", "incentive_bases", "basis_id"),
    ("incentive_basis_voids", "incentive_bases", "basis_id"),
    ("incentives", "incentives", "id"),
    ("incentive_reversals", "incentives", "incentive_id"),
    ("parties", "parties", "code"),
    ("outlets", "parties", "party_code"),
    ("cities", "cities", "name"),
    ("policies", "policies", "key"),
    ("accounts", "accounts", "code"),
    ("instruments", "instruments", "code"),
    ("principals", "principals", "id"),
    ("api_tokens", "tokens", "id"),
    ("approval_requests", "approvals", "id"),
    ("periods", "periods", "label"),
    ("period_events", "periods", "label"),
    ("statement_imports", "statements", "id"),
    ("statement_lines", "statements", "import_id"),
    ("reconciliations", "reconciliations", "id"),
    ("reconciliation_matches", "reconciliation_matches", "id"),
    ("reconciliation_match_items", "reconciliation_matches", "match_id"),
    ("audit_log", "audit", "seq"),
)
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # the fixed form: 6 decimals
POSTGRESQL_FUNCTION = """
CREATE FUNCTION ledger_record_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    new_key text := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) ->> TG_ARGV[1] END;
    old_key text := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) ->> TG_ARGV[1] END;
BEGIN
    IF new_key IS NOT NULL THEN
        INSERT INTO record_changes (chain, record_key, changed_at)
        VALUES (TG_ARGV[0], new_key, clock_timestamp());
    END IF;
    IF old_key IS NOT NULL AND old_key IS DISTINCT FROM new_key THEN
        INSERT INTO record_changes (chain, record_key, changed_at)
        VALUES (TG_ARGV[0], old_key, clock_timestamp());
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "record_chain",
        sa.Column("chain", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("record_key", sa.String(200), nullable=False),
        sa.Column("digest", sa.CHAR(64), nullable=False),
        sa.Column("previous_hash", sa.CHAR(64), nullable=False),
        sa.Column("hash", sa.CHAR(64), nullable=False),
        sa.Column("sealed_at", INSTANT, nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_record_chain_seq_positive")),
        sa.PrimaryKeyConstraint("chain", "seq", name=op.f("pk_record_chain")),
    )
    op.create_index(
        "ix_record_chain_chain_record_key", "record_chain", ["chain", "record_key", "seq"]
    )
    op.create_table(
        "record_changes",
        sa.Column("seq", ID, autoincrement=True, nullable=False),
        sa.Column("chain", sa.String(32), nullable=False),
        sa.Column("record_key", sa.String(200), nullable=False),
        sa.Column("changed_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_record_changes")),
    )
    op.create_index("ix_record_changes_chain_record_key", "record_changes", ["chain", "record_key"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        _create_postgresql_triggers()
    else:
        _create_sqlite_triggers()
    now = "clock_timestamp()" if postgresql else SQLITE_NOW
    roots: dict[str, tuple[str, str]] = {}
    for table, chain, column in CHAINED:
        roots.setdefault(chain, (table, column))
    for chain, (table, column) in roots.items():
        op.execute(
            "INSERT INTO record_changes (chain, record_key, changed_at)"  # noqa: S608 - constants
            f" SELECT '{chain}', CAST({column} AS TEXT), {now} FROM {table}"
        )


def _create_postgresql_triggers() -> None:
    op.execute(POSTGRESQL_FUNCTION)
    op.execute(
        "CREATE TRIGGER record_chain_immutable BEFORE UPDATE OR DELETE ON record_chain "
        "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
    )
    for table, chain, column in CHAINED:
        op.execute(
            f"CREATE TRIGGER {table}_chained AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_record_changed('{chain}', '{column}')"
        )


def _create_sqlite_triggers() -> None:
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER record_chain_no_{operation.lower()} BEFORE {operation} "
            f"ON record_chain BEGIN SELECT RAISE(ABORT, 'journal records are immutable: "
            f"{operation} on record_chain refused'); END"
        )
    insert = "INSERT INTO record_changes (chain, record_key, changed_at)"
    for table, chain, column in CHAINED:
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
    if op.get_bind().dialect.name == "postgresql":
        for table, _, _ in CHAINED:
            op.execute(f"DROP TRIGGER {table}_chained ON {table}")
        op.execute("DROP TRIGGER record_chain_immutable ON record_chain")
        op.execute("DROP FUNCTION ledger_record_changed()")
    else:
        for table, _, _ in CHAINED:
            for operation in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_chained_{operation}")
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER record_chain_no_{operation}")
    op.drop_index("ix_record_changes_chain_record_key", table_name="record_changes")
    op.drop_table("record_changes")
    op.drop_index("ix_record_chain_chain_record_key", table_name="record_chain")
    op.drop_table("record_chain")
    op.execute("DELETE FROM chain_heads WHERE name <> 'journal'")
