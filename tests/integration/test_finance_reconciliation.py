"""Reconciliation of a generated bank statement against E01's CNY postings: exact matches (by
reference and by amount and date), a split payment, an amount off by a fen within tolerance, a
missing payment and an unknown receipt each land where they should; bad files change nothing;
every create is safely retried; finance staff alone write, and every write is audited.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy import text

from ledger.domain.access import Actor, Role
from ledger.domain.entries import Reference
from ledger.domain.errors import LedgerError
from ledger.domain.pages import Created
from ledger.domain.reconciliation import Tolerance
from ledger.domain.registry import Party, PartyKind
from ledger.persistence.store import Store
from ledger.services import journal
from ledger.services import reconciliation as rec
from tests.factories import actor, setup_registry, transfer

TOLERANCE = Tolerance(amount_fen=1, days=2)
T = TypeVar("T")
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


@pytest.fixture
def finance(ledger: Store) -> Actor:
    return actor(ledger, Role.FINANCE, principal="fin-1")


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
    finance = actor(store, Role.FINANCE, principal="fin-1")
    made = rec.import_statement(store, finance, "E01", "bank", "march.csv", content.encode())
    return made.record.id


def started(
    store: Store, finance: Actor, tolerance: Tolerance = TOLERANCE
) -> rec.ReconciliationReport:
    return rec.start_reconciliation(store, finance, imported(store), tolerance).record


def line_ids(report: rec.ReconciliationReport, *numbers: int) -> set[int]:
    return {i for i, line in report.lines.items() if line.line_no in numbers}


def posting_of(report: rec.ReconciliationReport, entry_id: str) -> int:
    (posting_id,) = [i for i, item in report.items.items() if item.entry_id == entry_id]
    return posting_id


def test_every_kind_of_line_lands_where_it_should(ledger: Store, finance: Actor) -> None:
    report = started(ledger, finance)
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


def test_without_tolerance_the_fen_off_deposit_stays_unmatched(
    ledger: Store, finance: Actor
) -> None:
    report = started(ledger, finance, Tolerance(0, 2))
    unmatched = {report.items[i].entry_id for i in report.unmatched_postings}
    assert unmatched == {"deposit-3", "deposit-missing"}


def test_manual_match_and_unmatch_need_a_reason_and_confirmation_freezes(
    ledger: Store, finance: Actor
) -> None:
    report = started(ledger, finance)
    rid = report.reconciliation.id
    unknown, missing = report.unmatched_lines, report.unmatched_postings
    with pytest.raises(LedgerError) as caught:
        rec.match_manually(ledger, finance, rid, "m-1", unknown, missing, "  ")
    assert caught.value.code == "invalid_field"

    made = rec.match_manually(ledger, finance, rid, "m-1", unknown, missing, "bank error, t7")
    report = made.record
    manual = [m for m in report.matches if m.match.method == "manual"]
    assert manual[0].match.difference_fen == 12_345 - 77_700 and manual[0].client_id == "m-1"
    assert not made.replayed and not report.unmatched_lines and not report.unmatched_postings
    with pytest.raises(LedgerError) as caught:  # already matched, under another id
        rec.match_manually(ledger, finance, rid, "m-2", unknown, missing, "again")
    assert caught.value.code == "match_invalid"

    report = rec.unmatch(ledger, finance, rid, manual[0].id, "wrong pairing")
    assert report.unmatched_lines == unknown

    confirmed = rec.confirm(ledger, finance, rid)
    assert confirmed.reconciliation.confirmed_by == "fin-1"
    actions: list[Callable[[], object]] = [
        lambda: rec.unmatch(ledger, finance, rid, report.matches[0].id, "late"),
        lambda: rec.match_manually(ledger, finance, rid, "m-3", unknown, missing, "late"),
        lambda: rec.confirm(ledger, finance, rid),
    ]
    for action in actions:
        with pytest.raises(LedgerError) as caught:
            action()
        assert caught.value.code == "reconciliation_confirmed"


def test_the_database_refuses_any_change_to_a_confirmed_reconciliation(
    ledger: Store, finance: Actor
) -> None:
    rec.confirm(ledger, finance, started(ledger, finance).reconciliation.id)
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


def test_reimporting_the_same_file_is_idempotent(ledger: Store, finance: Actor) -> None:
    first = rec.import_statement(ledger, finance, "E01", "bank", "march.csv", STATEMENT.encode())
    again = rec.import_statement(ledger, finance, "E01", "bank", "copy.csv", STATEMENT.encode())
    assert not first.replayed and again.replayed and again.record == first.record
    assert lines_in_database(ledger) == 6


@pytest.mark.parametrize(
    ("account", "source", "field"), [("E02", "bank", "account"), ("E01", "exchange", "source")]
)
def test_the_same_file_for_another_account_or_source_is_a_conflict(
    ledger: Store, finance: Actor, account: str, source: str, field: str
) -> None:
    imported(ledger)
    with pytest.raises(LedgerError) as caught:
        rec.import_statement(ledger, finance, account, source, "x.csv", STATEMENT.encode())
    assert caught.value.code == "record_exists_with_different_definition"
    assert caught.value.field == field
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


def test_an_unknown_currency_or_account_is_refused(ledger: Store, finance: Actor) -> None:
    with pytest.raises(LedgerError) as caught:
        rec.import_statement(
            ledger, finance, "E01", "bank", "x.csv", STATEMENT.encode(), currency="USD"
        )
    assert caught.value.code == "unknown_currency"
    with pytest.raises(LedgerError) as caught:
        rec.import_statement(ledger, finance, "NOPE", "bank", "x.csv", STATEMENT.encode())
    assert caught.value.code == "unknown_account"


def test_a_generated_statement_of_many_lines_reconciles_fully(
    ledger: Store, finance: Actor
) -> None:
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
    import_id = imported(ledger, HEADER + "".join(lines))
    report = rec.start_reconciliation(ledger, finance, import_id, Tolerance(0, 0)).record
    assert not report.unmatched_lines
    assert len(report.matches) == 60


# -- retries, authority and audit -------------------------------------------------------------


def test_a_retried_start_or_match_answers_the_stored_one_and_a_changed_one_conflicts(
    ledger: Store, finance: Actor
) -> None:
    import_id = imported(ledger)
    first = rec.start_reconciliation(ledger, finance, import_id, TOLERANCE)
    again = rec.start_reconciliation(ledger, finance, import_id, TOLERANCE)
    assert again.replayed and again.record == first.record
    with pytest.raises(LedgerError) as caught:
        rec.start_reconciliation(ledger, finance, import_id, Tolerance(0, 0))
    assert (caught.value.code, caught.value.field) == (
        "record_exists_with_different_definition",
        "import_id",
    )

    rid = first.record.reconciliation.id
    lines, postings = first.record.unmatched_lines, first.record.unmatched_postings
    made = rec.match_manually(ledger, finance, rid, "m-1", lines, postings, "bank error")
    retried = rec.match_manually(ledger, finance, rid, "m-1", lines, postings, "bank error")
    assert retried.replayed and retried.record == made.record
    assert [m.client_id for m in retried.record.matches].count("m-1") == 1
    with pytest.raises(LedgerError) as caught:
        rec.match_manually(ledger, finance, rid, "m-1", lines, postings, "another reason")
    assert (caught.value.code, caught.value.field) == (
        "record_exists_with_different_definition",
        "id",
    )
    rec.confirm(ledger, finance, rid)  # a retry after the confirmation still finds its match
    assert rec.match_manually(ledger, finance, rid, "m-1", lines, postings, "bank error").replayed


def audit_lines(store: Store, principal: str) -> list[tuple[str, str, str | None]]:
    with store() as uow:
        return [
            (line.action, line.outcome, line.code)
            for line in uow.access.list_audit(principal, 0, 100)
        ]


def test_finance_staff_alone_import_and_every_write_is_audited(
    ledger: Store, finance: Actor
) -> None:
    regulator = actor(ledger, Role.REGULATOR, principal="regulator-importing")
    with pytest.raises(LedgerError) as caught:
        rec.import_statement(ledger, regulator, "E01", "bank", "x.csv", STATEMENT.encode())
    assert caught.value.code == "forbidden"
    assert audit_lines(ledger, regulator.id) == [("statements.import", "denied", "forbidden")]
    assert lines_in_database(ledger) == 0

    with pytest.raises(LedgerError):
        rec.import_statement(ledger, finance, "E01", "bank", "x.csv", b"date,amount\n")
    import_id = imported(ledger)
    report = rec.start_reconciliation(ledger, finance, import_id, TOLERANCE).record
    assert audit_lines(ledger, finance.id) == [
        ("statements.import", "rejected", "statement_invalid"),
        ("statements.import", "ok", None),
        ("reconciliations.start", "ok", None),
    ]
    # Oversight reads it; an enterprise may not, whosever account it is.
    seen = rec.get_report(ledger, regulator, report.reconciliation.id)
    assert seen.reconciliation == report.reconciliation
    with ledger() as uow:  # E01's representative
        uow.registry.add_party(Party("E01", PartyKind.ENTERPRISE, "E01"), uow.now())
        uow.commit()
    with pytest.raises(LedgerError) as caught:
        rec.get_report(ledger, actor(ledger, Role.ENTERPRISE, "E01"), report.reconciliation.id)
    assert caught.value.code == "forbidden"


@pytest.mark.postgres_only
def test_racing_identical_creates_make_one_record_and_answer_it_to_the_others(
    postgres_store: Store,
) -> None:
    store = postgres_store
    setup_registry(store, "E01", "E02")
    deposit(store, "deposit-D1", 2, "1000.00", "D1")
    deposit(store, "deposit-4", 4, "7.00")
    finance = actor(store, Role.FINANCE, principal="fin-1")
    content = (
        HEADER + "2026-03-02,D1,1000.00,Hebei Steel,deposit\n2026-03-05,,5.00,X,y\n"
    ).encode()

    def race(create: Callable[[], Created[T]]) -> list[Created[T]]:
        """Six threads asking for the same create at once; exactly one makes it."""
        barrier = threading.Barrier(6)
        made: list[Created[T]] = []

        def run() -> None:
            barrier.wait(timeout=30)
            made.append(create())

        threads = [threading.Thread(target=run) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(m.replayed for m in made) == [False] + [True] * 5
        assert all(m.record == made[0].record for m in made)
        return made

    imports = race(lambda: rec.import_statement(store, finance, "E01", "bank", "a.csv", content))
    assert lines_in_database(store) == 2
    import_id = imports[0].record.id
    (started_once, *_) = race(
        lambda: rec.start_reconciliation(store, finance, import_id, Tolerance())
    )
    report = started_once.record
    rid, lines, postings = (
        report.reconciliation.id,
        report.unmatched_lines,
        report.unmatched_postings,
    )
    assert len(lines) == len(postings) == 1
    race(lambda: rec.match_manually(store, finance, rid, "m", lines, postings, "late fee"))
    assert len(rec.get_report(store, finance, rid).matches) == 2
