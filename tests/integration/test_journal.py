"""The journal against a real database (SQLite and PostgreSQL): what posting does, what it refuses.

Every rejection leaves the ledger exactly as it was (same entries, same balance rows) and names
its rule with a stable `code`. After every test the invariant check must find nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.exc import DBAPIError

from ledger.domain.access import AuditRecord
from ledger.domain.accounts import Side
from ledger.domain.amounts import Instrument, InstrumentKind
from ledger.domain.entries import PostingRequest, Reference
from ledger.domain.errors import InvalidField, LedgerError
from ledger.domain.limits import UNITS_MAX
from ledger.domain.pages import encode_cursor
from ledger.domain.ports import AccountDraft, StatementLine, UnitOfWork
from ledger.persistence.store import Store
from ledger.services import journal, queries, registry
from ledger.services.journal import PostEntry, ResolvePending, ReverseEntry
from ledger.services.transactions import in_transaction, joined
from tests.factories import actor, setup_registry, transfer
from tests.integration.support import (
    DAY,
    HOUR,
    START,
    ManualClock,
    as_of,
    assert_rejected,
    available,
    entry_count,
    posted,
    snapshot,
)

SO2 = "SO2-2026"


@pytest.fixture(autouse=True)
def invariants_hold_afterwards(store: Store) -> Iterator[None]:
    """Whatever a test did or was refused, the ledger is consistent afterwards."""
    yield
    assert queries.check_invariants(store, actor(store)) == []


@pytest.fixture
def funded(store: Store) -> Store:
    """ALPHA holds 100 t of SO2-2026 issued to it; BETA holds nothing."""
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, transfer("fund-alpha", "ISSUANCE", "ALPHA", "100"))
    return store


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def timed(store: Store, clock: ManualClock) -> Store:
    """Like `funded`, on a store whose clock the test moves by hand (funding at START)."""
    timed = Store(store.engine, clock=clock)
    setup_registry(timed, "ALPHA", "BETA")
    journal.post_entry(timed, transfer("fund-alpha", "ISSUANCE", "ALPHA", "100"))
    return timed


def hold(
    entry_id: str,
    source: str,
    destination: str,
    amount: str,
    *,
    expires_at: datetime | None = None,
) -> PostEntry:
    """A pending transfer: reserves `amount` of `source` until posted, voided or expired."""
    return dataclasses.replace(
        transfer(entry_id, source, destination, amount, pending=True), expires_at=expires_at
    )


def line(account: str, side: Side, amount: str, instrument: str = SO2) -> PostingRequest:
    return PostingRequest(account, instrument, side, Decimal(amount))


def entry(entry_id: str, *postings: PostingRequest) -> PostEntry:
    return PostEntry(entry_id=entry_id, entry_type="transfer", postings=postings)


def open_holder(store: Store, code: str, instrument: str | None = None) -> None:
    registry.open_account(
        store,
        actor(store),
        AccountDraft(code, code, f"{code} holdings", Side.CREDIT, True, instrument),
    )


def running(lines: list[StatementLine]) -> list[int]:
    """Running balances (credit-normal) of statement lines."""
    return [line.credits_after - line.debits_after for line in lines]


# -- posting --------------------------------------------------------------------------------


def test_posting_a_transfer_moves_units_from_the_debited_to_the_credited_account(
    funded: Store,
) -> None:
    result = journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "30.5"))

    assert result.replayed is False
    assert posted(funded, "ALPHA") == Decimal("69.5")
    assert posted(funded, "BETA") == Decimal("30.5")


def test_a_posted_entry_can_be_read_back_with_its_postings_and_references(
    funded: Store,
) -> None:
    command = dataclasses.replace(
        transfer("t-1", "ALPHA", "BETA", "7"),
        memo="permit trade",
        metadata={"desk": "north"},
        references=(Reference("trade", "TR-1"),),
    )
    journal.post_entry(funded, command)

    view = queries.get_entry(funded, actor(funded), "t-1")

    assert view.state == "posted"
    assert view.record.memo == "permit trade"
    assert dict(view.record.metadata) == {"desk": "north"}
    assert view.record.references == (Reference("trade", "TR-1"),)
    assert [(p.account_code, p.side, p.units) for p in view.record.postings] == [
        ("ALPHA", Side.DEBIT, 7000),
        ("BETA", Side.CREDIT, 7000),
    ]


def test_a_batch_writes_all_of_its_entries(funded: Store) -> None:
    results = journal.post_batch(
        funded,
        [transfer("t-1", "ALPHA", "BETA", "10"), transfer("t-2", "BETA", "ALPHA", "4")],
    )

    assert [r.entry.entry_id for r in results] == ["t-1", "t-2"]
    assert posted(funded, "ALPHA") == Decimal("94")
    assert posted(funded, "BETA") == Decimal("6")


# -- rejections: each changes nothing and names its rule ---------------------------------


def test_an_unbalanced_entry_is_refused_as_entry_unbalanced(funded: Store) -> None:
    command = entry("bad", line("ALPHA", Side.DEBIT, "10"), line("BETA", Side.CREDIT, "9"))

    assert_rejected(funded, "entry_unbalanced", lambda: journal.post_entry(funded, command))


def test_a_posting_to_an_unknown_account_is_refused_as_unknown_account(funded: Store) -> None:
    command = transfer("bad", "ALPHA", "NOBODY", "1")

    error = assert_rejected(funded, "unknown_account", lambda: journal.post_entry(funded, command))
    assert error.field == "postings[1].account"


def test_a_posting_in_an_unknown_instrument_is_refused_as_unknown_instrument(
    funded: Store,
) -> None:
    command = transfer("bad", "ALPHA", "BETA", "1", instrument="NOX-2026")

    assert_rejected(funded, "unknown_instrument", lambda: journal.post_entry(funded, command))


def test_an_amount_finer_than_the_instruments_scale_is_refused_as_amount_too_precise(
    funded: Store,
) -> None:
    command = transfer("bad", "ALPHA", "BETA", "1.0001")  # SO2-2026 has 3 places

    assert_rejected(funded, "amount_too_precise", lambda: journal.post_entry(funded, command))


def test_a_frozen_account_cannot_be_debited(funded: Store) -> None:
    registry.freeze_account(funded, actor(funded), "ALPHA")
    command = transfer("bad", "ALPHA", "BETA", "1")

    assert_rejected(funded, "account_frozen", lambda: journal.post_entry(funded, command))


def test_a_frozen_account_can_still_be_credited(funded: Store) -> None:
    registry.freeze_account(funded, actor(funded), "BETA")

    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "1"))

    assert posted(funded, "BETA") == Decimal("1")


def test_an_unfrozen_account_can_be_debited_again(funded: Store) -> None:
    registry.freeze_account(funded, actor(funded), "ALPHA")
    registry.unfreeze_account(funded, actor(funded), "ALPHA")

    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "1"))

    assert posted(funded, "ALPHA") == Decimal("99")


def test_a_closed_account_accepts_no_postings(funded: Store) -> None:
    open_holder(funded, "GAMMA")
    registry.close_account(funded, actor(funded), "GAMMA")
    command = transfer("bad", "ALPHA", "GAMMA", "1")

    assert_rejected(funded, "account_closed", lambda: journal.post_entry(funded, command))


def test_an_account_restricted_to_one_instrument_refuses_another(funded: Store) -> None:
    open_holder(funded, "CEA-ONLY", instrument="CEA-2025")
    command = transfer("bad", "ALPHA", "CEA-ONLY", "1")

    assert_rejected(funded, "instrument_mismatch", lambda: journal.post_entry(funded, command))


def test_an_overdraft_of_a_non_negative_account_is_refused_as_insufficient_balance(
    funded: Store,
) -> None:
    command = transfer("bad", "ALPHA", "BETA", "100.001")

    assert_rejected(funded, "insufficient_balance", lambda: journal.post_entry(funded, command))


def test_an_entry_whose_debits_add_up_beyond_the_largest_amount_gets_a_ledger_answer(
    funded: Store,
) -> None:
    # Each line is within UNITS_MAX, so each balance counter is too; only the entry's own
    # debit total (2 x UNITS_MAX) exceeds a 64-bit integer. Written or refused with a code,
    # never a raw database error, and the same on both databases.
    open_holder(funded, "GAMMA")
    open_holder(funded, "DELTA")
    for issuer in ("ISSUER-X", "ISSUER-Y"):  # fresh counters: each line fits its balance
        registry.open_account(
            funded, actor(funded), AccountDraft(issuer, "HEBEI", issuer, Side.DEBIT, False, None)
        )
    largest = str(Decimal(UNITS_MAX).scaleb(-3))
    command = entry(
        "huge",
        line("ISSUER-X", Side.DEBIT, largest),
        line("ISSUER-Y", Side.DEBIT, largest),
        line("GAMMA", Side.CREDIT, largest),
        line("DELTA", Side.CREDIT, largest),
    )

    try:
        journal.post_entry(funded, command)
    except LedgerError as refusal:
        assert refusal.code in ("amount_too_large", "balance_overflow")
    else:
        assert posted(funded, "GAMMA") == Decimal(largest)


def test_a_non_negative_account_may_be_spent_down_to_exactly_zero(funded: Store) -> None:
    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "100"))

    assert posted(funded, "ALPHA") == Decimal("0")


def test_a_hold_cannot_reserve_more_than_is_available(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "60"))
    command = hold("h-2", "ALPHA", "BETA", "41")

    assert_rejected(funded, "insufficient_balance", lambda: journal.post_entry(funded, command))


def test_a_transfer_cannot_spend_what_an_open_hold_reserves(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "60"))
    command = transfer("bad", "ALPHA", "BETA", "41")

    assert_rejected(funded, "insufficient_balance", lambda: journal.post_entry(funded, command))


# -- reversals ------------------------------------------------------------------------------


def test_reversing_an_entry_restores_both_balances(funded: Store) -> None:
    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "30"))

    reversal = journal.reverse_entry(funded, ReverseEntry("t-1", "r-1"))

    assert reversal.entry.reverses_entry_id == "t-1"
    assert posted(funded, "ALPHA") == Decimal("100")
    assert posted(funded, "BETA") == Decimal("0")
    assert queries.get_entry(funded, actor(funded), "t-1").reversed_by == "r-1"


def test_reversing_an_entry_twice_is_refused_as_entry_already_reversed(funded: Store) -> None:
    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "30"))
    journal.reverse_entry(funded, ReverseEntry("t-1", "r-1"))

    assert_rejected(
        funded,
        "entry_already_reversed",
        lambda: journal.reverse_entry(funded, ReverseEntry("t-1", "r-2")),
    )


def test_reversing_a_pending_entry_is_refused_as_entry_not_reversible(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))

    assert_rejected(
        funded,
        "entry_not_reversible",
        lambda: journal.reverse_entry(funded, ReverseEntry("h-1", "r-1")),
    )


def test_reversing_an_unknown_entry_is_refused_as_entry_not_found(funded: Store) -> None:
    assert_rejected(
        funded,
        "entry_not_found",
        lambda: journal.reverse_entry(funded, ReverseEntry("nope", "r-1")),
    )


# -- holds (pending entries) ----------------------------------------------------------------


def test_a_hold_reserves_its_amount_without_posting_it(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))

    assert posted(funded, "ALPHA") == Decimal("100")
    assert available(funded, "ALPHA") == Decimal("70")
    assert posted(funded, "BETA") == Decimal("0")
    assert queries.get_entry(funded, actor(funded), "h-1").state == "pending"


def test_posting_a_hold_moves_the_held_amount(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))

    journal.post_pending_entry(funded, ResolvePending("h-1", "h-1-post"))

    assert posted(funded, "ALPHA") == Decimal("70")
    assert available(funded, "ALPHA") == Decimal("70")
    assert posted(funded, "BETA") == Decimal("30")
    view = queries.get_entry(funded, actor(funded), "h-1")
    assert (view.state, view.resolved_by) == ("posted", "h-1-post")


def test_a_partial_post_moves_the_posted_part_and_releases_the_rest(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))
    part = (line("ALPHA", Side.DEBIT, "12.5"), line("BETA", Side.CREDIT, "12.5"))

    journal.post_pending_entry(funded, ResolvePending("h-1", "h-1-post", postings=part))

    assert posted(funded, "ALPHA") == Decimal("87.5")
    assert available(funded, "ALPHA") == Decimal("87.5")
    assert posted(funded, "BETA") == Decimal("12.5")


def test_voiding_a_hold_releases_the_reserved_amount(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))

    journal.void_pending_entry(funded, ResolvePending("h-1", "h-1-void"))

    assert posted(funded, "ALPHA") == Decimal("100")
    assert available(funded, "ALPHA") == Decimal("100")
    assert queries.get_entry(funded, actor(funded), "h-1").state == "voided"


def test_posting_a_voided_hold_is_refused_as_pending_entry_already_voided(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))
    journal.void_pending_entry(funded, ResolvePending("h-1", "h-1-void"))

    assert_rejected(
        funded,
        "pending_entry_already_voided",
        lambda: journal.post_pending_entry(funded, ResolvePending("h-1", "h-1-post")),
    )


def test_voiding_a_posted_hold_is_refused_as_pending_entry_already_posted(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))
    journal.post_pending_entry(funded, ResolvePending("h-1", "h-1-post"))

    assert_rejected(
        funded,
        "pending_entry_already_posted",
        lambda: journal.void_pending_entry(funded, ResolvePending("h-1", "h-1-void")),
    )


def test_posting_a_hold_past_its_deadline_is_refused_as_pending_entry_expired(
    timed: Store,
    clock: ManualClock,
) -> None:
    journal.post_entry(timed, hold("h-1", "ALPHA", "BETA", "30", expires_at=START + HOUR))
    clock.advance(2 * HOUR)

    assert_rejected(
        timed,
        "pending_entry_expired",
        lambda: journal.post_pending_entry(timed, ResolvePending("h-1", "h-1-post")),
    )


def test_posting_a_hold_the_sweep_expired_is_refused_as_pending_entry_expired(
    timed: Store,
    clock: ManualClock,
) -> None:
    journal.post_entry(timed, hold("h-1", "ALPHA", "BETA", "30", expires_at=START + HOUR))
    clock.advance(2 * HOUR)
    journal.expire_pending_entries(timed)

    assert_rejected(
        timed,
        "pending_entry_expired",
        lambda: journal.post_pending_entry(timed, ResolvePending("h-1", "h-1-post")),
    )


def test_a_hold_can_be_posted_before_its_deadline(timed: Store, clock: ManualClock) -> None:
    journal.post_entry(timed, hold("h-1", "ALPHA", "BETA", "30", expires_at=START + HOUR))
    clock.advance(HOUR - timedelta(seconds=1))

    journal.post_pending_entry(timed, ResolvePending("h-1", "h-1-post"))

    assert posted(timed, "BETA") == Decimal("30")


def test_a_hold_whose_deadline_has_already_passed_is_refused_as_invalid_field(
    timed: Store,
) -> None:
    command = hold("h-1", "ALPHA", "BETA", "30", expires_at=START - HOUR)

    assert_rejected(timed, "invalid_field", lambda: journal.post_entry(timed, command))


def test_a_partial_post_beyond_the_pending_amount_is_refused_as_post_exceeds_pending(
    funded: Store,
) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))
    too_much = (line("ALPHA", Side.DEBIT, "30.001"), line("BETA", Side.CREDIT, "30.001"))

    assert_rejected(
        funded,
        "post_exceeds_pending",
        lambda: journal.post_pending_entry(
            funded, ResolvePending("h-1", "h-1-post", postings=too_much)
        ),
    )


def test_posting_an_entry_that_is_not_a_hold_is_refused_as_entry_not_pending(
    funded: Store,
) -> None:
    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "1"))

    assert_rejected(
        funded,
        "entry_not_pending",
        lambda: journal.post_pending_entry(funded, ResolvePending("t-1", "t-1-post")),
    )


# -- batches and bulk -----------------------------------------------------------------------


def test_a_batch_whose_second_entry_fails_writes_not_even_the_first(funded: Store) -> None:
    commands = [transfer("t-1", "ALPHA", "BETA", "10"), transfer("t-2", "BETA", "ALPHA", "11")]

    assert_rejected(funded, "insufficient_balance", lambda: journal.post_batch(funded, commands))

    assert_rejected(
        funded, "entry_not_found", lambda: queries.get_entry(funded, actor(funded), "t-1")
    )


def test_bulk_reports_created_replayed_and_rejected_items_one_by_one(funded: Store) -> None:
    journal.post_entry(funded, transfer("b-1", "ALPHA", "BETA", "1"))

    results = journal.post_bulk(
        funded,
        [
            transfer("b-1", "ALPHA", "BETA", "1"),
            transfer("b-2", "ALPHA", "BETA", "2"),
            transfer("b-3", "ALPHA", "BETA", "500"),
            transfer("b-4", "NOBODY", "BETA", "1"),
            transfer("b-5", "ALPHA", "BETA", "3"),
        ],
    )

    outcomes = [
        (r.index, r.entry_id, r.outcome, None if r.error is None else r.error.code) for r in results
    ]
    assert outcomes == [
        (0, "b-1", "replayed", None),
        (1, "b-2", "created", None),
        (2, "b-3", "rejected", "insufficient_balance"),
        (3, "b-4", "rejected", "unknown_account"),
        (4, "b-5", "created", None),
    ]
    assert posted(funded, "BETA") == Decimal("6")
    assert entry_count(funded) == 4


def test_a_batch_of_which_some_entries_already_exist_is_refused_as_batch_partially_exists(
    funded: Store,
) -> None:
    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "10"))
    commands = [transfer("t-1", "ALPHA", "BETA", "10"), transfer("t-2", "ALPHA", "BETA", "5")]

    assert_rejected(funded, "batch_partially_exists", lambda: journal.post_batch(funded, commands))


def test_an_entry_id_twice_in_one_batch_is_refused_as_duplicate_entry_id_in_request(
    funded: Store,
) -> None:
    commands = [transfer("t-1", "ALPHA", "BETA", "1"), transfer("t-1", "ALPHA", "BETA", "2")]

    assert_rejected(
        funded, "duplicate_entry_id_in_request", lambda: journal.post_batch(funded, commands)
    )


def test_an_entry_id_twice_in_one_bulk_request_is_refused_as_duplicate_entry_id_in_request(
    funded: Store,
) -> None:
    commands = [transfer("t-1", "ALPHA", "BETA", "1"), transfer("t-1", "ALPHA", "BETA", "1")]

    assert_rejected(
        funded, "duplicate_entry_id_in_request", lambda: journal.post_bulk(funded, commands)
    )


# -- idempotency ----------------------------------------------------------------------------


def test_the_same_request_twice_returns_the_original_entry_and_writes_it_once(
    funded: Store,
) -> None:
    first = journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "30"))
    entries_after_first = entry_count(funded)

    again = journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "30"))

    assert (first.replayed, again.replayed) == (False, True)
    assert again.entry.seq == first.entry.seq
    assert again.entry.recorded_at == first.entry.recorded_at
    assert again.entry.effective_at == first.entry.effective_at
    assert entry_count(funded) == entries_after_first
    assert posted(funded, "BETA") == Decimal("30")


def test_a_replay_is_recognised_even_when_reapplying_the_request_would_now_be_refused(
    funded: Store,
) -> None:
    first = journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "100"))

    again = journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "100"))

    assert again.replayed is True
    assert again.entry.seq == first.entry.seq


def test_a_replayed_batch_returns_every_original_entry(funded: Store) -> None:
    commands = [transfer("t-1", "ALPHA", "BETA", "10"), transfer("t-2", "ALPHA", "BETA", "5")]
    first = journal.post_batch(funded, commands)

    again = journal.post_batch(funded, commands)

    assert [p.replayed for p in again] == [True, True]
    assert [p.entry.seq for p in again] == [p.entry.seq for p in first]
    assert posted(funded, "BETA") == Decimal("15")


def test_the_same_id_for_a_different_request_is_refused_as_entry_exists_with_different_request(
    funded: Store,
) -> None:
    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "30"))

    assert_rejected(
        funded,
        "entry_exists_with_different_request",
        lambda: journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "31")),
    )


def test_a_retried_post_of_a_hold_after_it_succeeded_replays_instead_of_failing(
    funded: Store,
) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))
    first = journal.post_pending_entry(funded, ResolvePending("h-1", "h-1-post"))
    before = snapshot(funded)

    again = journal.post_pending_entry(funded, ResolvePending("h-1", "h-1-post"))

    assert again.replayed is True
    assert again.entry.seq == first.entry.seq
    assert snapshot(funded) == before


def test_a_retried_void_after_it_succeeded_replays_instead_of_failing(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))
    first = journal.void_pending_entry(funded, ResolvePending("h-1", "h-1-void"))

    again = journal.void_pending_entry(funded, ResolvePending("h-1", "h-1-void"))

    assert (again.replayed, again.entry.seq) == (True, first.entry.seq)


def test_a_retried_reversal_after_it_succeeded_replays_instead_of_failing(funded: Store) -> None:
    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "30"))
    first = journal.reverse_entry(funded, ReverseEntry("t-1", "r-1"))

    again = journal.reverse_entry(funded, ReverseEntry("t-1", "r-1"))

    assert (again.replayed, again.entry.seq) == (True, first.entry.seq)
    assert posted(funded, "ALPHA") == Decimal("100")


def test_a_retried_hold_after_its_deadline_passed_replays_instead_of_failing(
    timed: Store,
    clock: ManualClock,
) -> None:
    command = hold("h-1", "ALPHA", "BETA", "30", expires_at=START + HOUR)
    first = journal.post_entry(timed, command)
    clock.advance(2 * HOUR)

    again = journal.post_entry(timed, command)

    assert (again.replayed, again.entry.seq) == (True, first.entry.seq)


def test_a_rejected_attempt_does_not_pin_its_entry_id(funded: Store) -> None:
    assert_rejected(
        funded,
        "insufficient_balance",
        lambda: journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "500")),
    )

    corrected = journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "50"))

    assert corrected.replayed is False
    assert posted(funded, "BETA") == Decimal("50")


# -- expiry ---------------------------------------------------------------------------------


def test_the_sweep_expires_holds_past_their_deadline_exactly_once(
    timed: Store,
    clock: ManualClock,
) -> None:
    journal.post_entry(timed, hold("h-soon", "ALPHA", "BETA", "10", expires_at=START + HOUR))
    journal.post_entry(timed, hold("h-late", "ALPHA", "BETA", "20", expires_at=START + 5 * HOUR))
    journal.post_entry(timed, hold("h-open", "ALPHA", "BETA", "30"))
    clock.advance(2 * HOUR)

    first = journal.expire_pending_entries(timed)
    second = journal.expire_pending_entries(timed)

    assert (first, second) == (["h-soon"], [])
    assert available(timed, "ALPHA") == Decimal("50")
    assert posted(timed, "ALPHA") == Decimal("100")
    view = queries.get_entry(timed, actor(timed), "h-soon")
    assert view.state == "expired"
    assert view.resolved_by is not None and view.resolved_by.startswith("~")
    assert queries.get_entry(timed, actor(timed), "h-late").state == "pending"


def test_the_sweep_leaves_a_hold_that_was_posted_before_its_deadline(
    timed: Store,
    clock: ManualClock,
) -> None:
    journal.post_entry(timed, hold("h-1", "ALPHA", "BETA", "10", expires_at=START + HOUR))
    journal.post_pending_entry(timed, ResolvePending("h-1", "h-1-post"))
    clock.advance(2 * HOUR)

    assert journal.expire_pending_entries(timed) == []
    assert posted(timed, "BETA") == Decimal("10")


def test_a_hold_expires_even_if_a_client_entry_already_took_the_id_its_expiry_would_use(
    timed: Store,
    clock: ManualClock,
) -> None:
    # Expiry records get ids from the ledger's own namespace ('~'), which no client id can enter.
    journal.post_entry(timed, hold("h-1", "ALPHA", "BETA", "10", expires_at=START + HOUR))
    journal.post_entry(timed, transfer("expiry:h-1", "ALPHA", "BETA", "1"))
    with pytest.raises(LedgerError) as refused:
        journal.post_entry(timed, transfer("~expiry-1", "ALPHA", "BETA", "1"))
    assert refused.value.code == "invalid_field"
    clock.advance(2 * HOUR)

    expired = journal.expire_pending_entries(timed)

    assert expired == ["h-1"]
    assert available(timed, "ALPHA") == Decimal("99")


def test_a_hold_with_the_longest_allowed_entry_id_expires(
    timed: Store,
    clock: ManualClock,
) -> None:
    longest = "h" * 64  # limits.CODE_LENGTH_MAX, the longest id a client may choose
    journal.post_entry(timed, hold(longest, "ALPHA", "BETA", "10", expires_at=START + HOUR))
    clock.advance(2 * HOUR)

    expired = journal.expire_pending_entries(timed)

    assert expired == [longest]
    assert available(timed, "ALPHA") == Decimal("100")


# -- balances as of an instant ------------------------------------------------------------


def test_the_balance_as_of_a_recorded_instant_counts_what_was_recorded_by_then(
    timed: Store,
    clock: ManualClock,
) -> None:
    t1 = clock.advance(HOUR)
    journal.post_entry(timed, transfer("t-1", "ALPHA", "BETA", "30"))
    t2 = clock.advance(HOUR)
    journal.post_entry(timed, transfer("t-2", "ALPHA", "BETA", "20"))

    assert as_of(timed, "ALPHA", START - timedelta(seconds=1), "recorded") == 0
    assert as_of(timed, "ALPHA", START, "recorded") == 100
    assert as_of(timed, "ALPHA", t1 - timedelta(microseconds=1), "recorded") == 100
    assert as_of(timed, "ALPHA", t1, "recorded") == 70
    assert as_of(timed, "ALPHA", t2 + DAY, "recorded") == 50
    assert as_of(timed, "BETA", t1 + timedelta(minutes=30), "recorded") == 30


def test_the_balance_as_of_an_effective_instant_counts_back_dated_entries(
    timed: Store,
    clock: ManualClock,
) -> None:
    clock.advance(DAY)
    back_dated = dataclasses.replace(
        transfer("late-filed", "ALPHA", "BETA", "30"), effective_at=START + HOUR
    )
    journal.post_entry(timed, back_dated)
    moment = START + 2 * HOUR

    assert as_of(timed, "BETA", moment, "effective") == 30
    assert as_of(timed, "BETA", moment, "recorded") == 0
    assert as_of(timed, "ALPHA", moment, "effective") == 70
    assert as_of(timed, "ALPHA", moment, "recorded") == 100
    assert as_of(timed, "BETA", START + HOUR - timedelta(seconds=1), "effective") == 0


def test_recorded_times_of_an_account_never_run_backwards_when_the_clock_steps_back(
    timed: Store,
    clock: ManualClock,
) -> None:
    clock.advance(HOUR)
    journal.post_entry(timed, transfer("t-1", "ALPHA", "BETA", "30"))
    clock.advance(-2 * HOUR)  # the host clock is corrected backwards
    journal.post_entry(timed, transfer("t-2", "ALPHA", "BETA", "20"))

    lines = queries.get_statement(timed, actor(timed), "ALPHA", SO2, None, 100).lines

    assert [line.entry_id for line in lines] == ["fund-alpha", "t-1", "t-2"]
    assert [line.recorded_at for line in lines] == sorted(line.recorded_at for line in lines)
    assert running(lines) == [100_000, 70_000, 50_000]
    assert as_of(timed, "ALPHA", START + HOUR, "recorded") == 50


def test_an_unknown_time_axis_is_refused_as_invalid_field(funded: Store) -> None:
    assert_rejected(
        funded,
        "invalid_field",
        lambda: queries.get_balance(
            funded, actor(funded), "ALPHA", SO2, as_of=START, axis="booked"
        ),
    )


# -- statements and the trial balance ------------------------------------------------------


def test_a_statement_shows_each_movement_with_the_running_balance_after_it(
    funded: Store,
) -> None:
    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "30"))
    journal.post_entry(funded, transfer("t-2", "BETA", "ALPHA", "5"))
    journal.post_entry(funded, transfer("t-3", "ALPHA", "BETA", "0.25"))

    statement = queries.get_statement(funded, actor(funded), "ALPHA", SO2, None, 100)

    assert [line.entry_id for line in statement.lines] == ["fund-alpha", "t-1", "t-2", "t-3"]
    assert [line.side for line in statement.lines] == [
        Side.CREDIT,
        Side.DEBIT,
        Side.CREDIT,
        Side.DEBIT,
    ]
    assert running(statement.lines) == [100_000, 70_000, 75_000, 74_750]


def test_a_statement_leaves_out_holds_until_they_are_posted(funded: Store) -> None:
    journal.post_entry(funded, hold("h-1", "ALPHA", "BETA", "30"))
    pending_lines = queries.get_statement(funded, actor(funded), "ALPHA", SO2, None, 100).lines
    journal.post_pending_entry(funded, ResolvePending("h-1", "h-1-post"))
    posted_lines = queries.get_statement(funded, actor(funded), "ALPHA", SO2, None, 100).lines

    assert [line.entry_id for line in pending_lines] == ["fund-alpha"]
    assert [line.entry_id for line in posted_lines] == ["fund-alpha", "h-1-post"]
    assert running(posted_lines) == [100_000, 70_000]


def test_a_statement_pages_by_cursor_without_gaps_or_repeats(timed: Store) -> None:
    # The clock stands still: every line shares one recorded instant, so only the id orders them.
    for number in range(1, 8):
        journal.post_entry(timed, transfer(f"t-{number}", "ALPHA", "BETA", str(number)))
    everything = queries.get_statement(timed, actor(timed), "ALPHA", SO2, None, 100).lines

    pages: list[list[StatementLine]] = []
    cursor: str | None = None
    while True:
        page = queries.get_statement(timed, actor(timed), "ALPHA", SO2, cursor, 3).lines
        pages.append(page)
        if not page:
            break
        cursor = encode_cursor("statement", page[-1].posting_id)

    assert [len(page) for page in pages] == [3, 3, 2, 0]
    assert [line for page in pages for line in page] == everything
    assert running(everything)[-1] == 100_000 - sum(range(1, 8)) * 1000


def test_a_statement_cursor_from_another_listing_is_refused_as_invalid_cursor(
    funded: Store,
) -> None:
    cursor = encode_cursor("accounts", 1)

    assert_rejected(
        funded,
        "invalid_cursor",
        lambda: queries.get_statement(funded, actor(funded), "ALPHA", SO2, cursor, 10),
    )


def test_the_trial_balance_debits_equal_its_credits(funded: Store) -> None:
    journal.post_entry(funded, transfer("t-1", "ALPHA", "BETA", "30"))
    journal.post_entry(funded, hold("h-1", "BETA", "ALPHA", "10"))
    journal.post_entry(funded, transfer("t-2", "BETA", "ALPHA", "12"))

    trial = queries.get_trial_balance(funded, actor(funded), SO2)

    assert trial.debits_total == trial.credits_total
    assert trial.debits_total > 0
    assert [(t.account_code, t.debits_posted, t.credits_posted) for t in trial.lines] == [
        ("ALPHA", 30_000, 112_000),
        ("BETA", 12_000, 30_000),
        ("ISSUANCE", 100_000, 0),
    ]


# -- the invariant check --------------------------------------------------------------------


def test_the_invariant_check_finds_nothing_after_every_kind_of_write(
    timed: Store,
    clock: ManualClock,
) -> None:
    journal.post_entry(timed, transfer("t-1", "ALPHA", "BETA", "30"))
    journal.reverse_entry(timed, ReverseEntry("t-1", "r-1"))
    journal.post_batch(
        timed, [transfer("t-2", "ALPHA", "BETA", "5"), transfer("t-3", "BETA", "ALPHA", "1")]
    )
    journal.post_entry(timed, hold("h-post", "ALPHA", "BETA", "10"))
    journal.post_entry(timed, hold("h-part", "ALPHA", "BETA", "10"))
    journal.post_entry(timed, hold("h-void", "ALPHA", "BETA", "10"))
    journal.post_entry(timed, hold("h-exp", "ALPHA", "BETA", "10", expires_at=START + HOUR))
    journal.post_pending_entry(timed, ResolvePending("h-post", "h-post-1"))
    journal.post_pending_entry(
        timed,
        ResolvePending(
            "h-part",
            "h-part-1",
            postings=(line("ALPHA", Side.DEBIT, "4"), line("BETA", Side.CREDIT, "4")),
        ),
    )
    journal.void_pending_entry(timed, ResolvePending("h-void", "h-void-1"))
    clock.advance(2 * HOUR)
    journal.expire_pending_entries(timed)
    journal.post_bulk(
        timed, [transfer("b-1", "BETA", "ALPHA", "2"), transfer("b-2", "BETA", "ALPHA", "900")]
    )

    assert queries.check_invariants(timed, actor(timed)) == []
    assert posted(timed, "ALPHA") == Decimal("100") - 5 + 1 - 10 - 4 + 2


def test_what_a_rolled_back_transaction_created_is_not_cached_for_later_ones(
    funded: Store,
) -> None:
    # An instrument and an account created, read back, then the transaction refused (as a
    # registry operation refused by a later rule, or a write retried, is): later writes must see
    # neither, and get the ledger's own refusal, not a foreign-key failure.
    vintage = Instrument("SO2-2099", "SO2 rights 2099", InstrumentKind.EMISSION_RIGHT, "t", 3)

    def create_then_refuse(uow: UnitOfWork) -> None:
        uow.instruments.add(vintage, uow.now())
        uow.accounts.add(
            AccountDraft("GHOST", "GHOST", "ghost", Side.CREDIT, True, None), uow.now()
        )
        assert uow.instruments.get_many([vintage.code]) and uow.accounts.cached(["GHOST"])
        raise InvalidField("refused after creating", field="id")

    with pytest.raises(InvalidField):
        in_transaction(funded, create_then_refuse)

    assert_rejected(
        funded,
        "unknown_instrument",
        lambda: journal.post_entry(funded, transfer("x", "ISSUANCE", "ALPHA", "1", vintage.code)),
    )
    assert_rejected(
        funded,
        "unknown_account",
        lambda: journal.post_entry(funded, transfer("y", "ALPHA", "GHOST", "1")),
    )


def test_a_write_and_its_audit_lines_commit_together_or_not_at_all(funded: Store) -> None:
    """Audit lines wait for the commit (on PostgreSQL they share its round trip): a line that
    cannot be stored takes the write with it, and a stored one is there once."""
    regulator = actor(funded)
    journal.post_entry(funded, transfer("first", "ALPHA", "BETA", "1"))  # BETA's balance row
    unstorable = AuditRecord(None, regulator.id, None, "entries.post", "x", "ok", None)  # type: ignore[arg-type]

    def write(line: AuditRecord) -> Callable[[UnitOfWork], None]:
        def work(uow: UnitOfWork) -> None:
            journal.post_entry(
                joined(uow), transfer(f"audited-{line.target}", "ALPHA", "BETA", "1")
            )
            uow.access.append_audit([line])

        return work

    with pytest.raises(DBAPIError):
        in_transaction(funded, write(unstorable))
    good = dataclasses.replace(unstorable, at=START, target="y")
    in_transaction(funded, write(good))

    assert available(funded, "BETA", SO2) == Decimal("2")
    with funded(read_only=True) as uow:
        targets = [line.target for line in uow.access.list_audit(regulator.id, 0, 100)]
    assert targets.count("y") == 1 and "x" not in targets
