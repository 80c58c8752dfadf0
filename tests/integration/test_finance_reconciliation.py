"""Reconciliation of a generated bank statement against E01's CNY postings: exact matches (by
reference and by amount and date), a split payment, an amount off by a fen within tolerance, a
missing payment and an unknown receipt each land where they should; bad files change nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from ledger.domain.access import Principal, Role
from ledger.domain.entries import Reference
from ledger.domain.errors import LedgerError
from ledger.domain.reconciliation import Tolerance
from ledger.persistence.store import Store
from ledger.services import journal
from ledger.services import reconciliation as rec
from tests.factories import setup_registry, transfer

FINANCE = Principal("fin-1", "Finance one", Role.FINANCE, None, None)
TOLERANCE = Tolerance(amount_fen=1, days=2)
HEADER = "date,reference,amount,counterparty,description\n"


def on(day: int) -> datetime:
    """10:00 in Beijing on 2026-03-`day`."""
    return datetime(2026, 3, day, 2, 0, tzinfo=UTC)


def deposit(store: Store, entry_id: str, day: int, amount: str, *refs: str) -> None:
    command = transfer(entry_id, "ISSUANCE", "E01", amount, "CNY")
    command = dataclasses.replace(
        command, effective_at=on(day), references=tuple(Reference("deposit", r) for r in refs)
    )
    journal.post_entry(store, command)


@pytest.fixture
def ledger(store: Store) -> Store:
    """E01's ledger: deposits D1 (1000.00 on 2 Mar, ref D1), 250.00 (3 Mar), trade proceeds
    500.00 (6 Mar), 999.99 (8 Mar) and 777.00 (10 Mar)."""
    setup_registry(store, "E01", "E02")
    deposit(store, "deposit-D1", 2, "1000.00", "D1")
    deposit(store, "deposit-2", 3, "250.00")
    deposit(store, "proceeds-T9", 6, "500.00")
    deposit(store, "deposit-3", 8, "999.99")
    deposit(store, "deposit-missing", 10, "777.00")
    return store


# The bank's view: D1 by reference; 250.00 exact; 500.00 arrives split in two; 1000.00 for the
# 999.99 deposit (a fen off, a day late); nothing for the 777.00; an unknown receipt of 123.45.
STATEMENT = HEADER + (
    "2026-03-02,D1,1000.00,Hebei Steel,deposit\n"
    "2026-03-03,,250.00,Hebei Steel,deposit\n"
    "2026-03-06,,200.00,Exchange,trade T9 part 1\n"
    "2026-03-07,,300.00,Exchange,trade T9 part 2\n"
    "2026-03-09,,1000.00,Hebei Steel,deposit\n"
    "2026-03-11,XYZ,123.45,Unknown Co,unknown receipt\n"
)


def imported(store: Store, content: str = STATEMENT) -> str:
    record, _ = rec.import_statement(store, FINANCE, "E01", "bank", "march.csv", content.encode())
    return record.id


def line_ids(report: rec.ReconciliationReport, *numbers: int) -> set[int]:
    return {i for i, line in report.lines.items() if line.line_no in numbers}


def posting_of(report: rec.ReconciliationReport, entry_id: str) -> int:
    (posting_id,) = [i for i, item in report.items.items() if item.entry_id == entry_id]
    return posting_id


def test_every_kind_of_line_lands_where_it_should(ledger: Store) -> None:
    report = rec.start_reconciliation(ledger, FINANCE, imported(ledger), TOLERANCE)
    by_method = {}
    for record in report.matches:
        lines = {report.lines[i].line_no for i in record.match.line_ids}
        entries = {report.items[i].entry_id for i in record.match.posting_ids}
        by_method[frozenset(entries)] = (record.match.method, lines, record.match.difference_fen)

    assert by_method == {
        frozenset({"deposit-D1"}): ("reference", {2}, 0),
        frozenset({"deposit-2"}): ("amount_date", {3}, 0),
        frozenset({"proceeds-T9"}): ("split", {4, 5}, 0),
        frozenset({"deposit-3"}): ("amount_date", {6}, 1),
    }
    assert [report.lines[i].line_no for i in report.unmatched_lines] == [7]  # unknown receipt
    assert [report.items[i].entry_id for i in report.unmatched_postings] == ["deposit-missing"]
    assert [m.match.difference_fen for m in report.differences] == [1]
    assert report.statement_total_fen - report.ledger_total_fen == 12_345 - 77_700 + 1


def test_without_tolerance_the_fen_off_deposit_stays_unmatched(ledger: Store) -> None:
    report = rec.start_reconciliation(ledger, FINANCE, imported(ledger), Tolerance(0, 2))
    unmatched = {report.items[i].entry_id for i in report.unmatched_postings}
    assert unmatched == {"deposit-3", "deposit-missing"}


def test_manual_match_and_unmatch_need_a_reason_and_confirmation_freezes(ledger: Store) -> None:
    report = rec.start_reconciliation(ledger, FINANCE, imported(ledger), TOLERANCE)
    rid = report.reconciliation.id
    unknown, missing = report.unmatched_lines, report.unmatched_postings
    with pytest.raises(LedgerError) as caught:
        rec.match_manually(ledger, FINANCE, rid, unknown, missing, "  ")
    assert caught.value.code == "invalid_field"

    report = rec.match_manually(ledger, FINANCE, rid, unknown, missing, "bank error, see ticket 7")
    manual = [m for m in report.matches if m.match.method == "manual"]
    assert manual[0].match.difference_fen == 12_345 - 77_700
    assert not report.unmatched_lines and not report.unmatched_postings
    with pytest.raises(LedgerError) as caught:  # already matched
        rec.match_manually(ledger, FINANCE, rid, unknown, missing, "again")
    assert caught.value.code == "match_invalid"

    report = rec.unmatch(ledger, FINANCE, rid, manual[0].id, "wrong pairing")
    assert report.unmatched_lines == unknown

    confirmed = rec.confirm(ledger, FINANCE, rid)
    assert confirmed.reconciliation.confirmed_by == "fin-1"
    actions: list[Callable[[], object]] = [
        lambda: rec.unmatch(ledger, FINANCE, rid, report.matches[0].id, "late"),
        lambda: rec.match_manually(ledger, FINANCE, rid, unknown, missing, "late"),
        lambda: rec.confirm(ledger, FINANCE, rid),
    ]
    for action in actions:
        with pytest.raises(LedgerError) as caught:
            action()
        assert caught.value.code == "reconciliation_confirmed"


def test_the_database_refuses_any_change_to_a_confirmed_reconciliation(ledger: Store) -> None:
    report = rec.start_reconciliation(ledger, FINANCE, imported(ledger), TOLERANCE)
    rec.confirm(ledger, FINANCE, report.reconciliation.id)
    for statement in (
        "UPDATE reconciliations SET confirmed_by = 'someone'",
        "UPDATE reconciliation_matches SET reason = 'edited'",
        "DELETE FROM reconciliation_match_items",
        "DELETE FROM reconciliations",
        "UPDATE statement_lines SET amount_fen = 1",
    ):
        with ledger.engine.connect() as connection, pytest.raises(Exception) as caught:
            connection.execute(text(statement))
        assert "refused" in str(caught.value) or "confirmed" in str(caught.value), statement


# -- bad input ------------------------------------------------------------------------------


def lines_in_database(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM statement_lines")).scalar_one())


@pytest.mark.parametrize(
    ("content", "code", "mentions"),
    [
        (
            HEADER + "2026-02-30,R1,10.00,A,x\n2026-03-01,R2,1O.00,A,x\n",
            "statement_invalid",
            ["line 2: malformed date", "line 3: malformed amount"],
        ),
        (
            HEADER + "2026-03-01,R1,10.001,A,x\n2026-03-01,R1,0.00,A,x\n",
            "statement_invalid",
            ["line 2", "line 3"],
        ),
        (
            HEADER + "2026-03-01,R1,10.00,A,x\n2026-03-02,R2,5.00,B,y\n2026-03-01,R1,10.00,A,x\n",
            "statement_invalid",
            ["line 4: duplicate of line 2"],
        ),
        ("date,amount\n2026-03-01,10.00\n", "statement_invalid", ["missing columns"]),
        (HEADER.strip() + ",currency\n2026-03-01,R1,10.00,A,x,USD\n", "unknown_currency", ["USD"]),
        (HEADER, "statement_invalid", ["no lines"]),
    ],
)
def test_a_bad_statement_is_refused_whole_with_line_numbers(
    ledger: Store, content: str, code: str, mentions: list[str]
) -> None:
    with pytest.raises(LedgerError) as caught:
        imported(ledger, content)
    assert caught.value.code == code
    for mention in mentions:
        assert mention in caught.value.detail, caught.value.detail
    assert lines_in_database(ledger) == 0


def test_reimporting_the_same_file_is_idempotent(ledger: Store) -> None:
    first, replayed = rec.import_statement(
        ledger, FINANCE, "E01", "bank", "march.csv", STATEMENT.encode()
    )
    again, replayed = rec.import_statement(
        ledger, FINANCE, "E01", "bank", "copy.csv", STATEMENT.encode()
    )
    assert again == first and replayed
    assert lines_in_database(ledger) == 6


def test_lines_already_imported_from_another_file_are_refused_with_their_numbers(
    ledger: Store,
) -> None:
    imported(ledger)
    overlapping = HEADER + "2026-03-12,NEW,1.00,A,x\n" + STATEMENT.splitlines()[2] + "\n"
    with pytest.raises(LedgerError) as caught:
        imported(ledger, overlapping)
    assert caught.value.code == "statement_lines_already_imported"
    assert "line 3 (imported as line 3" in caught.value.detail
    assert lines_in_database(ledger) == 6


def test_an_unknown_currency_or_account_is_refused(ledger: Store) -> None:
    with pytest.raises(LedgerError) as caught:
        rec.import_statement(
            ledger, FINANCE, "E01", "bank", "x.csv", STATEMENT.encode(), currency="USD"
        )
    assert caught.value.code == "unknown_currency"
    with pytest.raises(LedgerError) as caught:
        rec.import_statement(ledger, FINANCE, "NOPE", "bank", "x.csv", STATEMENT.encode())
    assert caught.value.code == "unknown_account"


def test_a_generated_statement_of_many_lines_reconciles_fully(ledger: Store) -> None:
    lines = []
    for number in range(60):
        day = date(2026, 4, 1) + timedelta(days=number % 28)
        amount = f"{10 + number}.{number % 100:02d}"
        command = dataclasses.replace(
            transfer(f"gen-{number}", "ISSUANCE", "E01", amount, "CNY"),
            effective_at=datetime(day.year, day.month, day.day, 3, tzinfo=UTC),
        )
        journal.post_entry(ledger, command)
        lines.append(f"{day.isoformat()},,{amount},Gen,line {number}\n")
    report = rec.start_reconciliation(
        ledger, FINANCE, imported(ledger, HEADER + "".join(lines)), Tolerance(0, 0)
    )
    assert not report.unmatched_lines
    assert len(report.matches) == 60
