"""Journal entry drafts: balance per instrument, posting counts, pending shape, partial posts,
reversals and the request hash that tells a retry from a different request."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from ledger.domain.accounts import Side
from ledger.domain.entries import (
    EntryDraft,
    EntryRecord,
    EntryStatus,
    PostingDraft,
    PostingRecord,
    PostingRequest,
    Reference,
    check_balanced,
    check_posting_count,
    partial_post_postings,
    reversal_postings,
    to_posting_drafts,
)
from ledger.domain.limits import POSTINGS_PER_ENTRY_MAX
from tests.factories import CEA, CNY, SO2
from tests.unit.refusals import accepted, refusal

INSTRUMENTS = {i.code: i for i in (SO2, CEA, CNY)}
DEBIT, CREDIT = Side.DEBIT, Side.CREDIT


def line(account: str, side: Side, units: int, instrument: str = "SO2-2026") -> PostingDraft:
    return PostingDraft(account, instrument, side, units)


def transfer(units: int = 30_000) -> tuple[PostingDraft, ...]:
    """PLANT-A sells `units` of SO2-2026 to PLANT-B."""
    return (line("PLANT-A", DEBIT, units), line("PLANT-B", CREDIT, units))


def trade(so2: int = 30_000, cny: int = 1_230_000) -> tuple[PostingDraft, ...]:
    """PLANT-A delivers SO2 to PLANT-B, PLANT-B pays PLANT-A in CNY."""
    return (
        line("PLANT-A", DEBIT, so2),
        line("PLANT-B", CREDIT, so2),
        line("PLANT-B", DEBIT, cny, "CNY"),
        line("PLANT-A", CREDIT, cny, "CNY"),
    )


def draft(postings: tuple[PostingDraft, ...] = transfer(), **fields: Any) -> EntryDraft:
    return EntryDraft("trade-1", "transfer", postings, **fields)


def as_records(postings: tuple[PostingDraft, ...]) -> tuple[PostingRecord, ...]:
    return tuple(
        PostingRecord(p.account_code, p.instrument_code, p.side, p.units) for p in postings
    )


# -- balance per instrument -----------------------------------------------------------------


def test_a_transfer_whose_debits_equal_its_credits_is_balanced() -> None:
    assert accepted(lambda: check_balanced(transfer()))


def test_an_entry_whose_credits_fall_short_is_refused_as_unbalanced() -> None:
    postings = (line("PLANT-A", DEBIT, 30_000), line("PLANT-B", CREDIT, 29_999))

    error = refusal(lambda: check_balanced(postings))

    assert error.code == "entry_unbalanced"
    assert error.context == {"instrument": "SO2-2026"}


def test_a_trade_balanced_in_each_instrument_is_balanced() -> None:
    assert accepted(lambda: check_balanced(trade()))


def test_equal_totals_across_two_instruments_do_not_balance_an_entry() -> None:
    # 5 units of SO2 debited, 5 units of CNY credited: each instrument must balance alone.
    postings = (line("PLANT-A", DEBIT, 5), line("PLANT-B", CREDIT, 5, "CNY"))

    assert refusal(lambda: check_balanced(postings)).code == "entry_unbalanced"


def test_the_refusal_names_the_instrument_that_does_not_balance() -> None:
    postings = (*transfer(), line("PLANT-B", DEBIT, 100, "CNY"), line("PLANT-A", CREDIT, 99, "CNY"))

    assert refusal(lambda: check_balanced(postings)).context == {"instrument": "CNY"}


def test_the_same_account_on_both_sides_of_a_transfer_still_balances() -> None:
    assert accepted(lambda: check_balanced((line("A", DEBIT, 7), line("A", CREDIT, 7))))


# -- posting counts and shape ---------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1])
def test_an_entry_with_fewer_than_two_postings_is_refused(count: int) -> None:
    assert refusal(lambda: check_posting_count(count)).code == "too_few_postings"


def test_an_entry_may_have_the_maximum_number_of_postings() -> None:
    assert accepted(lambda: check_posting_count(POSTINGS_PER_ENTRY_MAX))


def test_an_entry_with_more_than_the_maximum_number_of_postings_is_refused() -> None:
    error = refusal(lambda: check_posting_count(POSTINGS_PER_ENTRY_MAX + 1))

    assert error.code == "too_many_postings"
    assert error.field == "postings"


def test_too_many_postings_is_reported_before_an_imbalance() -> None:
    postings = tuple(line(f"A{i}", DEBIT, 1) for i in range(POSTINGS_PER_ENTRY_MAX + 1))

    assert refusal(draft(postings).validate).code == "too_many_postings"


def test_a_single_posting_is_refused_before_its_imbalance() -> None:
    assert refusal(draft((line("PLANT-A", DEBIT, 1),)).validate).code == "too_few_postings"


def test_a_pending_entry_may_not_name_the_same_account_instrument_and_side_twice() -> None:
    postings = (line("A", DEBIT, 5), line("A", DEBIT, 5), line("B", CREDIT, 10))

    error = refusal(draft(postings, pending=True).validate)

    assert error.code == "duplicate_pending_posting"


def test_a_posted_entry_may_name_the_same_account_instrument_and_side_twice() -> None:
    postings = (line("A", DEBIT, 5), line("A", DEBIT, 5), line("B", CREDIT, 10))

    assert accepted(draft(postings).validate)


def test_a_pending_entry_may_debit_and_credit_the_same_account() -> None:
    assert accepted(draft((line("A", DEBIT, 5), line("A", CREDIT, 5)), pending=True).validate)


def test_an_unbalanced_pending_entry_is_refused_as_unbalanced_before_duplicates() -> None:
    postings = (line("A", DEBIT, 5), line("A", DEBIT, 5), line("B", CREDIT, 9))

    assert refusal(draft(postings, pending=True).validate).code == "entry_unbalanced"


def test_only_a_pending_entry_may_have_an_expiry() -> None:
    expires = datetime(2026, 6, 30, tzinfo=UTC)

    error = refusal(draft(expires_at=expires).validate)

    assert error.code == "invalid_field"
    assert error.field == "expires_at"


def test_a_pending_entry_with_an_expiry_is_valid() -> None:
    expires = datetime(2026, 6, 30, tzinfo=UTC)

    assert accepted(draft(pending=True, expires_at=expires).validate)


# -- from wire amounts to units -------------------------------------------------------------


def test_each_line_is_converted_with_its_own_instruments_scale() -> None:
    requests = (
        PostingRequest("PLANT-A", "SO2-2026", DEBIT, Decimal("1.5")),
        PostingRequest("PLANT-B", "CEA-2025", CREDIT, Decimal("1.5E+1")),
        PostingRequest("PLANT-C", "CNY", CREDIT, Decimal("1.5")),
    )

    units = [p.units for p in to_posting_drafts(requests, INSTRUMENTS)]

    assert units == [1_500, 15, 150]


def test_an_unknown_instrument_is_refused_with_the_lines_position() -> None:
    requests = (
        PostingRequest("PLANT-A", "SO2-2026", DEBIT, Decimal("1")),
        PostingRequest("PLANT-B", "NOX-2026", CREDIT, Decimal("1")),
    )

    error = refusal(lambda: to_posting_drafts(requests, INSTRUMENTS))

    assert error.code == "unknown_instrument"
    assert error.field == "postings[1].instrument"


def test_a_too_precise_amount_is_refused_with_the_lines_position() -> None:
    requests = (
        PostingRequest("PLANT-A", "CNY", DEBIT, Decimal("1.00")),
        PostingRequest("PLANT-B", "CNY", CREDIT, Decimal("1.001")),
    )

    error = refusal(lambda: to_posting_drafts(requests, INSTRUMENTS))

    assert error.code == "amount_too_precise"
    assert error.field == "postings[1].amount"


# -- partial posts of pending entries -------------------------------------------------------


def test_posting_a_hold_in_full_books_every_pending_line() -> None:
    assert partial_post_postings(as_records(trade()), None) == trade()


def test_posting_part_of_a_hold_books_only_the_requested_amounts() -> None:
    part = transfer(10_000)

    assert partial_post_postings(as_records(transfer(30_000)), part) == part


def test_posting_exactly_the_pending_amount_is_allowed() -> None:
    assert partial_post_postings(as_records(transfer()), transfer()) == transfer()


def test_a_partial_post_may_leave_out_the_lines_of_one_instrument() -> None:
    so2_only = trade()[:2]

    assert partial_post_postings(as_records(trade()), so2_only) == so2_only


def test_a_partial_post_may_not_take_more_than_a_line_holds() -> None:
    error = refusal(lambda: partial_post_postings(as_records(transfer(30_000)), transfer(30_001)))

    assert error.code == "post_exceeds_pending"


def test_a_partial_post_may_not_name_a_line_the_hold_does_not_have() -> None:
    stranger = (line("PLANT-A", DEBIT, 1), line("PLANT-C", CREDIT, 1))

    error = refusal(lambda: partial_post_postings(as_records(transfer()), stranger))

    assert error.code == "invalid_field"
    assert error.field == "postings"


def test_a_partial_post_may_not_swap_the_side_of_a_line() -> None:
    swapped = (line("PLANT-A", CREDIT, 1), line("PLANT-B", DEBIT, 1))

    assert refusal(lambda: partial_post_postings(as_records(transfer()), swapped)).code == (
        "invalid_field"
    )


def test_a_partial_post_must_balance() -> None:
    lopsided = (line("PLANT-A", DEBIT, 10_000), line("PLANT-B", CREDIT, 9_000))

    error = refusal(lambda: partial_post_postings(as_records(transfer()), lopsided))

    assert error.code == "entry_unbalanced"


def test_a_partial_post_may_name_each_line_once() -> None:
    twice = (line("PLANT-A", DEBIT, 5), line("PLANT-A", DEBIT, 5), line("PLANT-B", CREDIT, 10))

    error = refusal(lambda: partial_post_postings(as_records(transfer()), twice))

    assert error.code == "duplicate_pending_posting"


# -- reversals ------------------------------------------------------------------------------


def record(postings: tuple[PostingDraft, ...]) -> EntryRecord:
    moment = datetime(2026, 3, 1, 9, tzinfo=UTC)
    return EntryRecord(
        seq=1,
        entry_id="trade-1",
        request_hash="0" * 64,
        entry_type="transfer",
        status=EntryStatus.POSTED,
        effective_at=moment,
        recorded_at=moment,
        memo="",
        metadata={},
        references=(),
        postings=as_records(postings),
    )


def test_a_reversal_swaps_the_side_of_every_posting_and_keeps_the_rest() -> None:
    reversed_trade = reversal_postings(record(trade()))

    assert reversed_trade == tuple(replace(p, side=p.side.opposite) for p in trade())


def test_the_reversal_of_a_balanced_entry_is_balanced() -> None:
    assert accepted(lambda: check_balanced(reversal_postings(record(trade()))))


# -- request hash ---------------------------------------------------------------------------

MARCH = datetime(2026, 3, 1, 9, tzinfo=UTC)


def full_draft() -> EntryDraft:
    return EntryDraft(
        entry_id="trade-1",
        entry_type="transfer",
        postings=trade(),
        effective_at=MARCH,
        memo="spot trade",
        metadata={"desk": "north", "lot": 7},
        references=(Reference("trade", "T-1"),),
        pending=True,
        expires_at=MARCH + timedelta(days=1),
    )


def test_equal_requests_have_the_same_hash() -> None:
    assert full_draft().request_hash() == full_draft().request_hash()


def test_the_hash_does_not_depend_on_the_order_of_metadata_keys() -> None:
    reordered = replace(full_draft(), metadata={"lot": 7, "desk": "north"})

    assert reordered.request_hash() == full_draft().request_hash()


@pytest.mark.parametrize(
    "change",
    [
        {"entry_id": "trade-2"},
        {"entry_type": "issuance"},
        {"postings": trade(so2=30_001, cny=1_230_000)[:2] + trade()[2:]},
        {"postings": trade(cny=1_230_001)},
        {"postings": tuple(replace(p, side=p.side.opposite) for p in trade())},
        {"postings": tuple(replace(p, account_code=p.account_code + "X") for p in trade())},
        {"postings": trade()[:2] + tuple(replace(p, instrument_code="HKD") for p in trade()[2:])},
        {"effective_at": MARCH + timedelta(seconds=1)},
        {"effective_at": None},
        {"memo": "spot trade."},
        {"metadata": {"desk": "north", "lot": 8}},
        {"metadata": {"desk": "north"}},
        {"references": (Reference("trade", "T-2"),)},
        {"references": (Reference("permit", "T-1"),)},
        {"references": ()},
        {"pending": False},
        {"expires_at": MARCH + timedelta(days=2)},
        {"expires_at": None},
    ],
    ids=[
        "entry_id",
        "entry_type",
        "so2-amount",
        "cny-amount",
        "sides",
        "accounts",
        "instrument",
        "effective_at",
        "no-effective_at",
        "memo",
        "metadata-value",
        "metadata-key",
        "reference-id",
        "reference-kind",
        "no-references",
        "pending",
        "expires_at",
        "no-expires_at",
    ],
)
def test_changing_any_field_of_a_request_changes_its_hash(change: dict[str, Any]) -> None:
    assert replace(full_draft(), **change).request_hash() != full_draft().request_hash()


def test_the_same_instant_written_in_another_time_zone_has_the_same_hash() -> None:
    # The API keeps the client's offset (AwareDatetime): a retry that spells 09:00Z as
    # 17:00+08:00 is the same request and must replay, not be refused as a different one.
    beijing = timezone(timedelta(hours=8))
    same_instant = replace(
        full_draft(),
        effective_at=MARCH.astimezone(beijing),
        expires_at=(MARCH + timedelta(days=1)).astimezone(beijing),
    )

    assert same_instant == full_draft()
    assert same_instant.request_hash() == full_draft().request_hash()
