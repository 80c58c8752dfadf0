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

from ledger.domain.access import Actor, Pending, Role
from ledger.domain.errors import LedgerError
from ledger.domain.finance import PeriodState
from ledger.persistence.store import Store
from ledger.services import approvals, journal, periods, queries
from ledger.services.journal import ResolvePending, ReverseEntry
from tests.factories import actor, setup_registry, transfer
from tests.integration.support import assert_rejected

MARCH = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
APRIL = datetime(2026, 4, 10, 4, 0, tzinfo=UTC)


def dated(entry_id: str, moment: datetime, amount: str = "1") -> journal.PostEntry:
    return dataclasses.replace(transfer(entry_id, "ISSUANCE", "E01", amount), effective_at=moment)


@pytest.fixture
def ledger(store: Store) -> Store:
    setup_registry(store, "E01", "E02")
    journal.post_entry(store, dated("march-1", MARCH, "100"))
    return store


@pytest.fixture
def finance(ledger: Store) -> Actor:
    return actor(ledger, Role.FINANCE, principal="fin-1")


def test_an_entry_back_dated_into_a_closed_month_is_refused_naming_the_month(
    ledger: Store, finance: Actor
) -> None:
    record = periods.close_period(ledger, finance, "2026-03")
    assert record.entries_at_close == 1 and record.state is PeriodState.CLOSED

    error = assert_rejected(
        ledger, "period_closed", lambda: journal.post_entry(ledger, dated("late", MARCH))
    )
    assert error.field == "effective_at"
    assert "2026-03" in error.detail
    journal.post_entry(ledger, dated("april", APRIL))  # the next month is open


def test_a_closed_quarter_refuses_every_month_in_it_and_a_batch_blames_the_entry(
    ledger: Store, finance: Actor
) -> None:
    periods.close_period(ledger, finance, "2026-Q1")
    batch = [dated("ok", APRIL), dated("bad", datetime(2026, 1, 5, tzinfo=UTC))]
    error = assert_rejected(ledger, "period_closed", lambda: journal.post_batch(ledger, batch))
    assert error.field == "entries[1].effective_at"
    assert "2026-Q1" in error.detail


def test_the_database_refuses_an_entry_into_a_closed_period_whatever_the_code_does(
    ledger: Store, finance: Actor
) -> None:
    periods.close_period(ledger, finance, "2026-03")
    with ledger() as uow, pytest.raises(LedgerError) as caught:
        # Bypass the service's check: the trigger is the last line of defence.
        journal.write_in(uow, [dated("sneaky", MARCH)])
    assert caught.value.code == "period_closed"


def test_a_period_that_has_not_ended_cannot_be_closed(ledger: Store, finance: Actor) -> None:
    with pytest.raises(LedgerError) as caught:
        periods.close_period(ledger, finance, "2100-12")
    assert caught.value.code == "period_not_ended"


def test_closing_twice_returns_the_first_close(ledger: Store, finance: Actor) -> None:
    first = periods.close_period(ledger, finance, "2026-03")
    again = periods.close_period(ledger, actor(ledger, Role.FINANCE, principal="fin-2"), "2026-03")
    assert again == first


def test_a_reversal_of_an_entry_in_a_closed_period_goes_into_the_open_period(
    ledger: Store, finance: Actor
) -> None:
    periods.close_period(ledger, finance, "2026-03")
    reversal = journal.reverse_entry(ledger, ReverseEntry("march-1", "march-1-reversal"))
    assert not isinstance(reversal, Pending)
    assert reversal.entry.effective_at > datetime(2026, 4, 1, tzinfo=UTC)
    refused = ReverseEntry("march-1", "march-1-backdated", effective_at=MARCH)
    assert_rejected(ledger, "period_closed", lambda: journal.reverse_entry(ledger, refused))


def test_a_correction_references_the_entry_it_corrects(ledger: Store, finance: Actor) -> None:
    periods.close_period(ledger, finance, "2026-03")
    regulator = actor(ledger, Role.REGULATOR)  # a correction is an adjustment of the journal
    posted = periods.post_correction(
        ledger, regulator, "march-1", transfer("march-1-fix", "ISSUANCE", "E01", "5")
    )
    assert not isinstance(posted, Pending)
    assert ("corrects", "march-1") in {(r.kind, r.id) for r in posted.entry.references}
    with pytest.raises(LedgerError) as caught:
        periods.post_correction(ledger, regulator, "march-1", dated("march-1-fix-2", MARCH))
    assert caught.value.code == "period_closed"
    with pytest.raises(LedgerError) as caught:  # the raw journal's rules: adjustments only
        allocation = transfer("march-1-fix-3", "ISSUANCE", "E01", "5", entry_type="allocation")
        periods.post_correction(ledger, regulator, "march-1", allocation)
    assert caught.value.code == "entry_type_not_allowed"


def test_a_hold_cannot_be_posted_back_into_a_closed_period(ledger: Store, finance: Actor) -> None:
    hold = dataclasses.replace(transfer("hold", "E01", "E02", "1"), pending=True)
    journal.post_entry(ledger, hold)
    periods.close_period(ledger, finance, "2026-03")
    command = ResolvePending("hold", "hold-post", effective_at=MARCH)
    assert_rejected(ledger, "period_closed", lambda: journal.post_pending_entry(ledger, command))
    journal.post_pending_entry(ledger, ResolvePending("hold", "hold-post"))


def test_reopening_takes_a_second_person_and_then_entries_are_accepted(
    ledger: Store, finance: Actor
) -> None:
    periods.close_period(ledger, finance, "2026-03")
    asked = periods.reopen_period(
        ledger, finance, "2026-03", "late invoice from the bank", "reopen-1"
    )
    assert isinstance(asked, Pending) and asked.request.operation == "period_reopen"
    assert periods.get_period(ledger, finance, "2026-03").state is PeriodState.CLOSED
    with pytest.raises(LedgerError) as caught:  # the initiator may not approve its own request
        approvals.approve(ledger, finance, asked.request.id)
    assert caught.value.code == "self_approval"
    same_person = actor(ledger, Role.FINANCE, principal="fin-1-bis", person="fin-1")
    with pytest.raises(LedgerError) as caught:  # nor under another of their principals
        approvals.approve(ledger, same_person, asked.request.id)
    assert caught.value.code == "self_approval"
    approvals.approve(ledger, actor(ledger, Role.FINANCE, principal="fin-2"), asked.request.id)

    reopened = periods.get_period(ledger, finance, "2026-03")
    assert reopened.state is PeriodState.OPEN and reopened.reopened_by == "fin-1"
    journal.post_entry(ledger, dated("late", MARCH))


def test_reopening_a_period_that_is_not_closed_is_refused(ledger: Store, finance: Actor) -> None:
    with pytest.raises(LedgerError) as caught:
        periods.reopen_period(ledger, finance, "2026-03", "why", "reopen-1")
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
    record = periods.close_period(store, actor(store, Role.FINANCE), "2026-03")
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
    assert queries.check_invariants(store, actor(store)) == []
