"""Period close: entries effective in a closed period are refused with a code naming it, by the
service and by the database; reopening takes four eyes; corrections go into an open period.

The last test races writers against a close on PostgreSQL with real threads.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ledger.domain.access import Principal, Role
from ledger.domain.errors import LedgerError
from ledger.domain.finance import PeriodState
from ledger.persistence.store import Store
from ledger.services import access, approvals, journal, periods, queries
from ledger.services.journal import ResolvePending, ReverseEntry
from tests.factories import setup_registry, transfer
from tests.integration.support import assert_rejected

FINANCE = Principal("fin-1", "Finance one", Role.FINANCE, None, None)
MARCH = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
APRIL = datetime(2026, 4, 10, 4, 0, tzinfo=UTC)


def dated(entry_id: str, moment: datetime, amount: str = "1") -> journal.PostEntry:
    return dataclasses.replace(transfer(entry_id, "ISSUANCE", "E01", amount), effective_at=moment)


@pytest.fixture
def ledger(store: Store) -> Store:
    setup_registry(store, "E01", "E02")
    journal.post_entry(store, dated("march-1", MARCH, "100"))
    return store


def test_an_entry_back_dated_into_a_closed_month_is_refused_naming_the_month(
    ledger: Store,
) -> None:
    record = periods.close_period(ledger, FINANCE, "2026-03")
    assert record.entries_at_close == 1 and record.state is PeriodState.CLOSED

    error = assert_rejected(
        ledger, "period_closed", lambda: journal.post_entry(ledger, dated("late", MARCH))
    )
    assert error.field == "effective_at"
    assert "2026-03" in error.detail
    journal.post_entry(ledger, dated("april", APRIL))  # the next month is open


def test_a_closed_quarter_refuses_every_month_in_it_and_a_batch_blames_the_entry(
    ledger: Store,
) -> None:
    periods.close_period(ledger, FINANCE, "2026-Q1")
    batch = [dated("ok", APRIL), dated("bad", datetime(2026, 1, 5, tzinfo=UTC))]
    error = assert_rejected(ledger, "period_closed", lambda: journal.post_batch(ledger, batch))
    assert error.field == "entries[1].effective_at"
    assert "2026-Q1" in error.detail


def test_the_database_refuses_an_entry_into_a_closed_period_whatever_the_code_does(
    ledger: Store,
) -> None:
    periods.close_period(ledger, FINANCE, "2026-03")
    with ledger() as uow, pytest.raises(LedgerError) as caught:
        # Bypass the service's check: the trigger is the last line of defence.
        journal.write_in(uow, [dated("sneaky", MARCH)])
    assert caught.value.code == "period_closed"


def test_a_period_that_has_not_ended_cannot_be_closed(ledger: Store) -> None:
    with pytest.raises(LedgerError) as caught:
        periods.close_period(ledger, FINANCE, "2100-12")
    assert caught.value.code == "period_not_ended"


def test_closing_twice_returns_the_first_close(ledger: Store) -> None:
    first = periods.close_period(ledger, FINANCE, "2026-03")
    again = periods.close_period(ledger, dataclasses.replace(FINANCE, id="fin-2"), "2026-03")
    assert again == first


def test_a_reversal_of_an_entry_in_a_closed_period_goes_into_the_open_period(
    ledger: Store,
) -> None:
    periods.close_period(ledger, FINANCE, "2026-03")
    reversal = journal.reverse_entry(ledger, ReverseEntry("march-1", "march-1-reversal"))
    assert reversal.entry.effective_at > datetime(2026, 4, 1, tzinfo=UTC)
    refused = ReverseEntry("march-1", "march-1-backdated", effective_at=MARCH)
    assert_rejected(ledger, "period_closed", lambda: journal.reverse_entry(ledger, refused))


def test_a_correction_references_the_entry_it_corrects(ledger: Store) -> None:
    periods.close_period(ledger, FINANCE, "2026-03")
    posted = periods.post_correction(
        ledger, "march-1", transfer("march-1-fix", "ISSUANCE", "E01", "5")
    )
    assert ("corrects", "march-1") in {(r.kind, r.id) for r in posted.entry.references}
    with pytest.raises(LedgerError) as caught:
        periods.post_correction(ledger, "march-1", dated("march-1-fix-2", MARCH))
    assert caught.value.code == "period_closed"


def test_a_hold_cannot_be_posted_back_into_a_closed_period(ledger: Store) -> None:
    hold = dataclasses.replace(transfer("hold", "E01", "E02", "1"), pending=True)
    journal.post_entry(ledger, hold)
    periods.close_period(ledger, FINANCE, "2026-03")
    command = ResolvePending("hold", "hold-post", effective_at=MARCH)
    assert_rejected(ledger, "period_closed", lambda: journal.post_pending_entry(ledger, command))
    journal.post_pending_entry(ledger, ResolvePending("hold", "hold-post"))


def test_reopening_takes_a_second_principal_and_then_entries_are_accepted(
    ledger: Store,
) -> None:
    for principal_id in ("fin-1", "fin-2"):
        access.create_principal(
            ledger, access.NewPrincipal(principal_id, principal_id, Role.FINANCE), None
        )
    periods.close_period(ledger, FINANCE, "2026-03")
    request = periods.request_reopen(ledger, FINANCE, "2026-03", "late invoice from the bank")
    assert periods.get_period(ledger, "2026-03").state is PeriodState.CLOSED
    with pytest.raises(LedgerError):  # the initiator may not approve its own request
        approvals.approve(ledger, request.id, FINANCE)
    approvals.approve(ledger, request.id, dataclasses.replace(FINANCE, id="fin-2"))

    reopened = periods.get_period(ledger, "2026-03")
    assert reopened.state is PeriodState.OPEN and reopened.reopened_by == "fin-1"
    journal.post_entry(ledger, dated("late", MARCH))


def test_reopening_a_period_that_is_not_closed_is_refused(ledger: Store) -> None:
    with pytest.raises(LedgerError) as caught:
        periods.reopen_period(ledger, FINANCE, "2026-03", "why")
    assert caught.value.code == "period_not_found"


# -- a close racing writers (PostgreSQL, real threads) ---------------------------------------


@pytest.mark.postgres_only
def test_an_entry_racing_the_close_either_lands_before_it_or_is_rejected(
    postgres_store: Store,
) -> None:
    store = postgres_store
    setup_registry(store, "E01", "E02")
    writers, per_writer = 8, 15
    barrier = threading.Barrier(writers + 1)
    outcomes: dict[str, str] = {}
    lock = threading.Lock()

    def write(thread: int) -> None:
        barrier.wait(timeout=30)
        for number in range(per_writer):
            entry_id = f"w{thread}-{number}"
            moment = MARCH + timedelta(minutes=thread * per_writer + number)
            try:
                journal.post_entry(store, dated(entry_id, moment))
                outcome = "written"
            except LedgerError as error:
                outcome = error.code
            with lock:
                outcomes[entry_id] = outcome

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=30)
    record = periods.close_period(store, FINANCE, "2026-03")
    for thread in threads:
        thread.join(timeout=120)

    written = {entry_id for entry_id, outcome in outcomes.items() if outcome == "written"}
    assert set(outcomes.values()) <= {"written", "period_closed"}
    assert len(outcomes) == writers * per_writer
    assert "period_closed" in outcomes.values(), "the close must have raced some writers"
    # Nothing landed after the close: the period holds exactly what it held when it closed.
    with store.engine.connect() as connection:
        in_march = connection.execute(
            text("SELECT entry_id FROM entries WHERE effective_at >= :a AND effective_at < :b"),
            {
                "a": datetime(2026, 2, 28, 16, tzinfo=UTC),
                "b": datetime(2026, 3, 31, 16, tzinfo=UTC),
            },
        ).scalars()
        assert set(in_march) == written
    assert record.entries_at_close == len(written)
    assert queries.check_invariants(store) == []
