"""The business records' chains, end to end: every chained table's records are sealed by the
sealer from the triggers' queue, and someone with write access to the database who edits,
deletes or inserts a record, or rewrites, deletes or recomputes links, is caught by verify, per
chain, with the record and the cause. On SQLite and PostgreSQL.

The ledger: the demo registry (parties, outlets, cities, accounts, instruments, entitlements,
pledges, obligations, trades and their events, principals and tokens) and one record of every
other chained table, written with the triggers on — as the application would — then sealed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ledger.domain.access import AuditRecord
from ledger.domain.chain import ChainProblem, SealRefused
from ledger.domain.records import extend_records, record_digest
from ledger.entrypoints import cli, demo
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.record_chains import CHAINS
from ledger.persistence.store import Store
from ledger.services import access, chain, checkpoints
from tests.integration.chain_support import tamper

NOW = "'2026-03-01 08:00:00.000000'"
LATER = "'2026-04-01 08:00:00.000000'"
# One record of each chained table the demo leaves empty (parts with their record).
RECORDS = (
    "INSERT INTO penalty_basis_events (id, party_code, outlet_code, reason, first_month,"
    " last_month, evidence, generated_kg, recorded_by, recorded_at) VALUES ('PE1', 'E01',"
    f" 'SINTER-1', 'cems_tampered', '2026-04-01', '2026-04-01', 'inspection', '{{}}', 'x', {NOW})",
    "INSERT INTO policies (key, value) VALUES ('tax', '{\"rate\": \"1.2\"}')",
    "INSERT INTO surrenders (id, obligation_id, instrument_code, units, created_at) VALUES"
    f" ('SU1', (SELECT min(id) FROM obligations), 'CEA-2025', 1, {NOW})",
    "INSERT INTO carbon_deductions (id, obligation_id, party_code, allocation_id, year,"
    " allocated_units, units, created_at) VALUES ('D1', (SELECT min(id) FROM obligations),"
    f" 'E01', 'A1', 2026, 10, 1, {NOW})",
    "INSERT INTO obligation_penalty_payments (id, obligation_id, amount_fen, created_at) VALUES"
    f" ('OP1', (SELECT min(id) FROM obligations), 100, {NOW})",
    "INSERT INTO rights_penalties (id, party_code, report_id, pollutant, amount_fen, findings,"
    f" note, created_at) VALUES ('RP1', 'E01', 'R1', 'SO2', 10000000, 'exceedances', '', {NOW})",
    "INSERT INTO rights_penalty_payments (id, penalty_id, amount_fen, created_at) VALUES"
    f" ('PP1', 'RP1', 100, {NOW})",
    "INSERT INTO equipment_credit_years (id, party_code, year, cit_payable_fen, created_at)"
    f" VALUES ('E01-2025', 'E01', 2025, 100, {NOW})",
    "INSERT INTO equipment_credit_moves (year_id, incentive_id, kind, amount_fen) VALUES"
    " ('E01-2025', 'I1', 'use', 100)",
    "INSERT INTO retrofit_projects (id, party_code, first_revenue_year, description, created_at)"
    f" VALUES ('RT1', 'E01', 2024, '', {NOW})",
    "INSERT INTO retrofit_project_years (project_id, year, income_fen, exempt_fen, created_at)"
    f" VALUES ('RT1', 2024, 400, 100, {NOW})",
    "INSERT INTO emission_reports (id, party_code, period, first_month, last_month, version,"
    " status, created_by, created_at, decision_note, invalidation_reason) VALUES ('R1', 'E01',"
    f" '2025-03', '2025-03-01', '2025-03-01', 1, 'draft', 'e01', {NOW}, '', '')",
    "INSERT INTO emission_report_lines (report_id, line_no, month, outlet_code, pollutant,"
    " measured_as, method, mass_kg, exceedances, month_valid) VALUES ('R1', 1, '2025-03-01',"
    " 'SINTER-1', 'SO2', 'SO2', 'agency', '100', 0, true)",
    "INSERT INTO verified_reductions (id, party_code, pollutant, year, baseline_kind,"
    " baseline_kg, baseline_hours, actual_kg, actual_hours, reduction_kg, released_units,"
    f" release, created_at) VALUES ('VR1', 'E01', 'SO2', 2025, 'permit', '100', 1, '50', 1, 50,"
    f" 0, 'none', {NOW})",
    "INSERT INTO tax_returns (id, party_code, year, quarter, version, tier, source, policy,"
    " report_ids, total_before_fen, total_due_fen, total_reduction_fen, filed_by, filed_at)"
    f" VALUES ('TR1', 'E01', 2025, 1, 1, 3, 'reports', '{{}}', '[]', 100, 90, 10, 'e01', {NOW})",
    "INSERT INTO tax_return_lines (return_id, line_no, month, outlet_code, pollutant, mass_kg,"
    " equivalents, rank, taxed, rate, factor, disqualifications, tax_before_fen, tax_due_fen)"
    " VALUES ('TR1', 1, '2025-01-01', 'SINTER-1', 'SO2', '100', '1/1', 1, true, '1.2', '0.90',"
    " '[]', 100, 90)",
    "INSERT INTO tax_return_schedules (id, return_id, month, scheme, tier) VALUES"
    " ('TR1/2025-01', 'TR1', '2025-01-01', 'hebei', '3')",
    "INSERT INTO incentive_bases (id, kind, party_code, cap_fen, return_id, created_at) VALUES"
    f" ('B1', 'article13_reduction', 'E01', 10, 'TR1', {NOW})",
    "INSERT INTO incentive_basis_reports (basis_id, report_id) VALUES ('B1', 'R1')",
    "INSERT INTO incentives (id, basis_id, basis_fen, kind, party_code, amount_fen, entry_id,"
    f" booked_at) VALUES ('I1', 'B1', 10, 'article13_reduction', 'E01', 10, 'e-i1', {NOW})",
    "INSERT INTO trading_blocks (id, party_code, kind, pollutant, effective_from, basis,"
    f" created_at) VALUES ('BL1', 'E01', 'enforcement', '', '2025-01-01', 'x', {NOW})",
    "INSERT INTO listing_bids (listing_id, bidder, price_fen, at, outcome) VALUES ('T3', 'E04',"
    f" 600000, {NOW}, 'won')",
    "INSERT INTO approval_requests (id, operation, payload, authority, initiator,"
    " initiator_person, state, created_at, expires_at) VALUES ('AR1', 'allocation', '{}',"
    f" 'HEBEI', 'reg-1', 'reg-1', 'pending', {NOW}, {LATER})",
    "INSERT INTO periods (label, kind, starts_at, ends_at, state, closed_by, closed_at,"
    " entries_at_close, reason) VALUES ('2020-01', 'month', '2019-12-31 16:00:00.000000',"
    f" '2020-01-31 16:00:00.000000', 'closed', 'fin', {NOW}, 0, '')",
    f"INSERT INTO period_events (label, action, actor, at, reason) VALUES ('2020-01', 'close',"
    f" 'fin', {NOW}, '')",
    "INSERT INTO statement_imports (id, account_code, source, currency, filename, sha256,"
    " line_count, first_date, last_date, imported_by, imported_at) VALUES ('S1', 'E01:cash',"
    f" 'bank', 'CNY', 's.csv', '{'a' * 64}', 1, '2025-01-01', '2025-01-01', 'fin', {NOW})",
    "INSERT INTO statement_lines (import_id, line_no, booked_on, reference, amount_fen,"
    " counterparty, description, fingerprint) VALUES ('S1', 2, '2025-01-01', 'R', 100, 'A',"
    f" 'x', '{'b' * 64}')",
    "INSERT INTO reconciliations (id, import_id, account_code, currency, amount_tolerance_fen,"
    " date_tolerance_days, window_start, window_end, state, created_by, created_at) VALUES"
    f" ('RC1', 'S1', 'E01:cash', 'CNY', 0, 0, '2025-01-01', '2025-01-01', 'open', 'fin', {NOW})",
    "INSERT INTO reconciliation_matches (reconciliation_id, method, difference_fen, reason,"
    f" created_by, created_at) VALUES ('RC1', 'manual', 0, 'x', 'fin', {NOW})",
    "INSERT INTO reconciliation_match_items (match_id, statement_line_id) VALUES"
    " ((SELECT max(id) FROM reconciliation_matches), (SELECT max(id) FROM statement_lines))",
)
# Per chain, an edit of one of its records an attacker could gain by: (key SQL, SET clause).
EDITS = {
    "trades": ("'T1'", "price_fen = price_fen + 1"),
    "entitlements": ("'TANGSHAN-SO2-2025'", "units = units + 1"),
    "pledges": ("(SELECT min(id) FROM pledges)", "holder = 'nobody'"),
    "blocks": ("'BL1'", "lifted_on = '2025-01-02'"),
    "listings": ("'T3'", "price_fen = 100"),
    "obligations": ("(SELECT min(id) FROM obligations)", "verified_units = 0"),
    "deductions": ("'D1'", "units = 1000"),
    "obligation_payments": ("'OP1'", "amount_fen = 1"),
    "rights_penalties": ("'RP1'", "amount_fen = 1"),
    "credit_years": ("'E01-2025'", "cit_payable_fen = 0"),
    "retrofit_projects": ("'RT1'", "first_revenue_year = 2020"),
    "reports": ("'R1'", "decision_note = 'verified by phone'"),
    "reductions": ("'VR1'", "baseline_kg = '999'"),
    "returns": ("'TR1'", "filed_by = 'someone'"),
    "return_schedules": ("'TR1/2025-01'", "tier = '1'"),
    "tax_tables": ("'rate-hebei-3-so2_nox-2018-01-01'", "value = '1.2'"),
    "incentive_bases": ("'B1'", "equipment_id = 'forged'"),
    "incentives": ("'I1'", "entry_id = 'forged'"),
    "parties": ("'E01'", "tax_tier = 1"),
    "permits": ("(SELECT min(seq) FROM outlet_permits)", 'standards = \'{"SO2": "1000"}\''),
    "penalty_events": ("(SELECT min(id) FROM penalty_basis_events)", "evidence = 'none'"),
    "cities": ("(SELECT min(name) FROM cities)", "basin = 'elsewhere'"),
    "policies": ("'tax'", 'value = \'{"rate": "0"}\''),
    "accounts": ("'E01:holdings'", "name = 'renamed'"),
    "instruments": ("(SELECT min(code) FROM instruments)", "name = 'renamed'"),
    "principals": ("'demo-e01'", "role = 'administrator', party_code = NULL"),
    "tokens": ("(SELECT min(id) FROM api_tokens)", "expires_at = NULL"),
    "enrolments": ("(SELECT min(id) FROM enrolments)", "approved_by = 'nobody'"),
    "approvals": ("'AR1'", "initiator = 'someone else'"),
    "periods": ("'2020-01'", "reason = 'forged'"),
    "statements": ("'S1'", "filename = 'forged.csv'"),
    "reconciliations": ("'RC1'", "created_by = 'someone'"),
    "reconciliation_matches": ("(SELECT max(id) FROM reconciliation_matches)", "reason = 'forged'"),
    "audit": ("(SELECT max(seq) FROM audit_log)", "outcome = 'ok'"),
}


@pytest.fixture
def ledger(store: Store) -> Store:
    """A record in every chained table, all sealed; verify passes."""
    demo.load(store)  # its principals enrolled, tokens and enrolments included
    with store.engine.begin() as connection:
        for statement in RECORDS:
            connection.execute(text(statement))
    audit = AuditRecord(store.clock(), None, None, "GET /v1/x", "/v1/x", "rejected", 422, "x")
    access.record_audit(store, [audit])
    chain.seal_all(store)
    report = chain.verify(store)
    assert report.ok, report
    return store


def verdicts(store: Store) -> dict[str, Any]:
    return {verdict.chain: verdict.first_break for verdict in chain.verify(store).chains}


def key_of(store: Store, definition: Any, key_sql: str) -> str:
    table, column = definition.table.name, definition.key
    with store.engine.connect() as connection:
        value = connection.execute(
            text(f"SELECT {column} FROM {table} WHERE {column} = {key_sql}")
        ).scalar_one()
    return str(value)


def test_an_edited_record_of_every_chain_is_caught(
    ledger: Store, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """One record of each chain edited behind the ledger's back (a trade's price, a party's
    tax tier, a principal's role, a token's expiry, an audit line's outcome, …): each chain
    reports it, with the record, and the command exits 1."""
    with ledger.engine.connect() as connection:
        chains = connection.execute(text("SELECT DISTINCT chain FROM record_chain")).scalars()
        assert set(chains) == {definition.name for definition in CHAINS} == set(EDITS)
        assert connection.execute(text("SELECT count(*) FROM record_changes")).scalar_one() == 0
    edited = {}
    statements = []
    for definition in CHAINS:
        key_sql, change = EDITS[definition.name]
        edited[definition.name] = key_of(ledger, definition, key_sql)
        statements.append(
            f"UPDATE {definition.table.name} SET {change} WHERE {definition.key} = {key_sql}"
        )
    tamper(ledger, *statements)
    chain.seal_all(ledger)  # nothing is queued: the triggers were out of the way

    found = verdicts(ledger)

    for name, key in edited.items():
        broken = found[name]
        assert broken is not None, name
        assert (broken.record, broken.problem) == (key, ChainProblem.RECORD_CHANGED), name
        assert "changed behind the ledger's back" in broken.detail
    assert found["journal"] is None
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    capsys.readouterr()
    assert cli.main(["verify"]) == 1
    output = capsys.readouterr().out
    assert "principals: first broken link: chain_seq" in output
    assert "record demo-e01: record_changed" in output
    assert "principals: what to do: the record was edited after it was sealed" in output


def test_deleted_and_inserted_records_and_broken_links_are_caught(ledger: Store) -> None:
    """Behind the ledger's back: records deleted (a pledge, a policy, one of a trade's events),
    records inserted (an administrator-like principal, an entitlement), a link's digest
    rewritten, a link deleted, the last link deleted; each on a chain of its own."""
    tamper(
        ledger,
        "DELETE FROM pledges WHERE id = (SELECT min(id) FROM pledges)",
        "DELETE FROM policies WHERE key = 'tax'",
        "DELETE FROM trade_events WHERE id = (SELECT min(id) FROM trade_events"
        " WHERE trade_id = 'T1')",
        "INSERT INTO principals (id, name, kind, role, active, created_at, person) VALUES"
        f" ('mallory', 'Mallory', 'user', 'regulator', true, {NOW}, 'mallory')",
        "INSERT INTO entitlements (id, party_code, pollutant, units, first_vintage,"
        f" last_vintage, permit, created_at) VALUES ('FORGED', 'E01', 'SO2', 1000000, 2025,"
        f" 2026, 'none', {NOW})",
        f"UPDATE record_chain SET digest = '{'f' * 64}' WHERE chain = 'audit' AND seq = 1",
        "DELETE FROM record_chain WHERE chain = 'tokens' AND seq = 2",
        "DELETE FROM record_chain WHERE chain = 'cities'"
        " AND seq = (SELECT max(seq) FROM record_chain WHERE chain = 'cities')",
    )
    chain.seal_all(ledger)  # nothing queued any of it (the triggers were out of the way)

    found = {name: (b.chain_seq, b.record, b.problem) for name, b in verdicts(ledger).items() if b}

    pledge = found["pledges"][1]
    assert found["pledges"] == (found["pledges"][0], pledge, ChainProblem.RECORD_MISSING)
    assert found["policies"][1:] == ("tax", ChainProblem.RECORD_MISSING)
    assert found["trades"][1:] == ("T1", ChainProblem.RECORD_CHANGED)
    assert found["principals"] == (None, "mallory", ChainProblem.RECORD_UNACCOUNTED)
    assert found["entitlements"] == (None, "FORGED", ChainProblem.RECORD_UNACCOUNTED)
    assert found["audit"][0::2] == (1, ChainProblem.HASH_MISMATCH)
    assert found["tokens"] == (2, None, ChainProblem.GAP)
    assert found["cities"][2] is ChainProblem.HEAD_MISMATCH
    assert set(found) == {
        "pledges",
        "policies",
        "trades",
        "principals",
        "entitlements",
        "audit",
        "tokens",
        "cities",
    }


def test_a_recomputed_record_chain_is_caught_by_a_checkpoint(ledger: Store, tmp_path: Path) -> None:
    """A principal's role edited and the principals' chain rebuilt over it, head included:
    consistent on its own, but not with the checkpoint taken before."""
    checkpoints.export(ledger, tmp_path)
    tamper(
        ledger,
        "UPDATE principals SET role = 'administrator', party_code = NULL WHERE id = 'demo-e01'",
    )
    recompute_record_chain(ledger, "principals")
    assert verdicts(ledger)["principals"] is None

    report = checkpoints.verify(ledger, checkpoints.load(tmp_path))

    broken = report.of("principals").first_break
    assert broken is not None
    assert broken.problem is ChainProblem.CHECKPOINT_MISMATCH


def test_a_running_sealer_refuses_a_record_chain_truncated_behind_it(ledger: Store) -> None:
    sealer = chain.sealer_of(ledger)
    access.record_audit(ledger, [AuditRecord(ledger.clock(), None, None, "a", "b", "ok", 200)])
    chain.seal_all(ledger)
    tamper(
        ledger,
        "DELETE FROM record_chain WHERE chain = 'audit'"
        " AND seq = (SELECT max(seq) FROM record_chain WHERE chain = 'audit')",
        "UPDATE chain_heads SET length = length - 1, hash = (SELECT hash FROM record_chain"
        " WHERE chain = 'audit' AND seq = (SELECT max(seq) FROM record_chain WHERE chain ="
        " 'audit')) WHERE name = 'audit'",
        # A change waiting to be sealed (SQLite's tampering dropped the triggers that note it).
        "INSERT INTO record_changes (chain, record_key, changed_at) VALUES ('audit',"
        f" (SELECT CAST(min(seq) AS TEXT) FROM audit_log), {NOW})",
    )

    with pytest.raises(SealRefused, match="audit chain no longer holds link"):
        sealer.seal_all()


def test_concurrent_sealers_and_writers_never_fork_a_record_chain(
    database_url: str, store: Store
) -> None:
    """Two sealers, each with its own engine, race each other and a writer of audit lines."""
    errors: list[BaseException] = []
    writing = threading.Event()
    sealers = [Store(create_ledger_engine(database_url)) for _ in "ab"]

    def write() -> None:
        try:
            for number in range(60):
                line = AuditRecord(store.clock(), None, None, "w", f"/{number}", "ok", 200)
                access.record_audit(store, [line])
        except BaseException as error:
            errors.append(error)
        finally:
            writing.set()

    def seal(sealer_store: Store) -> None:
        try:
            while not writing.is_set():
                chain.Sealer(sealer_store).records.seal_all()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write)] + [
        threading.Thread(target=seal, args=(sealer_store,)) for sealer_store in sealers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for sealer_store in sealers:
        sealer_store.dispose()
    chain.seal_all(store)

    assert errors == []
    assert chain.verify(store).ok


def test_the_triggers_queue_every_chained_table(store: Store) -> None:
    """The migrated database has the record-change triggers of every table `CHAINS` reads, and
    of no other (a migration that rebuilds a table on SQLite must make them again)."""
    tables = {definition.table.name for definition in CHAINS} | {
        part.table.name for definition in CHAINS for part in definition.parts
    }
    with store.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            expected = {
                f"{t}_chained_{op}" for t in tables for op in ("insert", "update", "delete")
            }
        else:
            query = "SELECT DISTINCT trigger_name FROM information_schema.triggers"
            expected = {f"{t}_chained" for t in tables}
        names = set(connection.execute(text(query)).scalars())
    assert {name for name in names if "_chained" in name} == expected


def recompute_record_chain(store: Store, name: str) -> None:
    """Rebuild the chain `name` over its records as they now stand, head included."""
    definition = next(d for d in CHAINS if d.name == name)
    with store.engine.connect() as connection:
        keys = [
            str(key)
            for key in connection.execute(
                text(f"SELECT {definition.key} FROM {definition.table.name}")
            ).scalars()
        ]
    with store() as uow:
        contents = uow.records.contents(name, keys)
    links = extend_records(name, None, [(key, record_digest(contents[key])) for key in keys])
    tamper(
        store,
        f"DELETE FROM record_chain WHERE chain = '{name}'",
        *(
            "INSERT INTO record_chain (chain, seq, record_key, digest, previous_hash, hash,"
            f" sealed_at) VALUES ('{name}', {link.seq}, '{link.key}', '{link.digest}',"
            f" '{link.previous_hash}', '{link.hash}', {NOW})"
            for link in links
        ),
        f"UPDATE chain_heads SET length = {links[-1].seq}, hash = '{links[-1].hash}'"
        f" WHERE name = '{name}'",
    )
