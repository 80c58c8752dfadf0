"""An adjustment of an enterprise's account is a transfer, and is treated as one (SQLite and
PostgreSQL): a second regulator approves it, the trade rules (blocks, city eligibility, basin)
refuse it as they refuse a trade, when it is asked for and again when its approval runs it; the
accounts registry records account for (pledged, surrendered, penalties owed) are never touched.
Between accounts of no enterprise (the bench's holders) one regulator still posts at once.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from ledger.domain.access import FOUR_EYES_DEFAULT, Actor, Pending, RequestState, Role
from ledger.domain.accounts import Side
from ledger.domain.entries import PostingRequest
from ledger.domain.errors import LedgerError
from ledger.domain.ports import AccountDraft
from ledger.domain.registry import BlockKind, Pledge, TradingBlock
from ledger.persistence.store import Store
from ledger.services import adjustments, approvals, blocks, journal, queries, registry, rights
from tests.factories import NO_FOUR_EYES, actor
from tests.integration.registry_support import TRADE_DAY, build_registry, fingerprint, of

SO2 = "SO2-2026"


def _move(
    entry_id: str, source: str, destination: str, amount: str, instrument: str = SO2
) -> journal.PostEntry:
    value = Decimal(amount)
    return journal.PostEntry(
        entry_id,
        "transfer",
        (
            PostingRequest(source, instrument, Side.DEBIT, value),
            PostingRequest(destination, instrument, Side.CREDIT, value),
        ),
    )


def _posted(store: Store, account: str, instrument: str = SO2) -> int:
    return queries.get_balance(store, actor(store), account, instrument).balance.posted


def _refused(error: LedgerError, code: str, field: str) -> None:
    assert (error.code, error.field) == (code, field), error.detail


def _error(thunk: Callable[[], object]) -> LedgerError:
    with pytest.raises(LedgerError) as raised:
        thunk()
    return raised.value


@pytest.fixture
def registry_store(store: Store) -> Store:
    """The registry of `registry_support`, served with the operator's default four-eyes."""
    build_registry(store)
    store.four_eyes = FOUR_EYES_DEFAULT
    return store


@pytest.fixture
def second(registry_store: Store) -> Actor:
    """Another regulator of the province: another person."""
    return actor(registry_store, Role.REGULATOR, "HEBEI", principal="regulator-2")


@pytest.mark.parametrize(
    ("source", "destination", "instrument"),
    [("E1:holdings", "E2:holdings", SO2), ("E1:cash", "E2:cash", "CNY")],
    ids=["rights", "cash"],
)
def test_one_regulator_moves_nothing_between_enterprises_a_second_one_approves(
    registry_store: Store, second: Actor, source: str, destination: str, instrument: str
) -> None:
    before = fingerprint(registry_store)
    was = _posted(registry_store, destination, instrument)

    asked = adjustments.post_entry(
        registry_store,
        of(registry_store, "HEBEI"),
        _move("m1", source, destination, "1", instrument),
    )

    assert isinstance(asked, Pending)
    assert asked.request.operation == "adjustment"
    assert fingerprint(registry_store) == before
    decided = approvals.approve(registry_store, second, asked.request.id)
    assert decided.state is RequestState.APPLIED
    assert _posted(registry_store, destination, instrument) > was


def test_an_adjustment_never_drains_pledged_rights_whoever_approves(registry_store: Store) -> None:
    regulator = of(registry_store, "HEBEI")
    rights.pledge(registry_store, regulator, Pledge("P1", "E1", "SO2", 5_000, "BANK", 2026, 2026))
    registry_store.four_eyes = NO_FOUR_EYES  # even with none at all
    before = fingerprint(registry_store)

    drain = _move("drain", "E1:pledged", "E1:holdings", "5")
    refused = _error(lambda: adjustments.post_entry(registry_store, regulator, drain))
    batch = [
        _move("ok", "E1:holdings", "E2:holdings", "1"),
        _move("in", "E2:holdings", "E2:pledged", "1"),
    ]
    in_batch = _error(lambda: adjustments.post_batch(registry_store, regulator, batch))

    _refused(refused, "account_owned_by_record", "postings[0].account")
    _refused(in_batch, "account_owned_by_record", "entries[1].postings[1].account")
    assert fingerprint(registry_store) == before
    rights.release_pledge(registry_store, regulator, "P1")  # the pledge still says what is there
    assert _posted(registry_store, "E1:pledged") == 0


@pytest.mark.parametrize("account", ["E3:surrendered", "E3:penalties"])
def test_surrendered_allowances_and_penalties_owed_change_only_through_their_records(
    registry_store: Store, account: str
) -> None:
    move = _move("x", "E3:cash", account, "1", "CNY")

    refused = _error(
        lambda: adjustments.post_entry(registry_store, of(registry_store, "HEBEI"), move)
    )

    _refused(refused, "account_owned_by_record", "postings[1].account")


def test_an_adjustment_to_an_enterprise_under_enforcement_is_refused_when_asked(
    registry_store: Store,
) -> None:
    regulator = of(registry_store, "HEBEI")
    blocks.set_block(
        registry_store, regulator, TradingBlock("B1", "E2", BlockKind.ENFORCEMENT, TRADE_DAY)
    )
    before = fingerprint(registry_store)

    refused = _error(
        lambda: adjustments.post_entry(
            registry_store, regulator, _move("m1", "E1:holdings", "E2:holdings", "1")
        )
    )

    _refused(refused, "buyer_under_enforcement", "postings[1].account")
    assert fingerprint(registry_store) == before


def test_a_block_set_after_the_ask_stops_the_approved_adjustment(
    registry_store: Store, second: Actor
) -> None:
    regulator = of(registry_store, "HEBEI")
    asked = adjustments.post_entry(
        registry_store, regulator, _move("m1", "E1:holdings", "E2:holdings", "1")
    )
    assert isinstance(asked, Pending)
    leased = TradingBlock("B1", "E1", BlockKind.LEASING, TRADE_DAY, "SO2")
    blocks.set_block(registry_store, regulator, leased)
    before = fingerprint(registry_store)

    refused = _error(lambda: approvals.approve(registry_store, second, asked.request.id))

    _refused(refused, "rights_blocked", "postings[0].account")
    assert fingerprint(registry_store) == before
    assert approvals.get(registry_store, second, asked.request.id).state is RequestState.PENDING


def test_rights_reach_an_enterprise_of_another_city_only_if_its_city_may_receive(
    registry_store: Store,
) -> None:
    registry_store.four_eyes = NO_FOUR_EYES  # the rules, not four eyes
    regulator = of(registry_store, "HEBEI")

    refused = _error(
        lambda: adjustments.post_entry(
            registry_store, regulator, _move("m1", "E1:holdings", "E3:holdings", "1")
        )
    )
    water = _error(
        lambda: adjustments.post_entry(
            registry_store, regulator, _move("m2", "E1:holdings", "E4:holdings", "1", "COD-2026")
        )
    )

    _refused(refused, "city_may_not_receive", "postings[1].account")  # Xingtai
    _refused(water, "basin_mismatch", "postings[1].account")  # Hai River to Luan River


def test_a_raw_hold_is_checked_again_when_it_is_posted(
    registry_store: Store, second: Actor
) -> None:
    regulator = of(registry_store, "HEBEI")
    placed = adjustments.place_pending_entry(
        registry_store,
        regulator,
        journal.PostEntry(
            "h1",
            "transfer",
            _move("h1", "E1:holdings", "E2:holdings", "1").postings,
            pending=True,
        ),
    )
    assert isinstance(placed, Pending)
    approvals.approve(registry_store, second, placed.request.id)
    blocks.set_block(
        registry_store, regulator, TradingBlock("B1", "E2", BlockKind.ENFORCEMENT, TRADE_DAY)
    )

    refused = _error(
        lambda: adjustments.post_pending_entry(
            registry_store, regulator, journal.ResolvePending("h1", "h1-post")
        )
    )

    _refused(refused, "buyer_under_enforcement", "pending_entry_id")
    adjustments.void_pending_entry(
        registry_store, regulator, journal.ResolvePending("h1", "h1-void")
    )


def test_accounts_of_no_enterprise_still_move_in_one_step(registry_store: Store) -> None:
    """The bench's holders: accounts of an owner the registry has no party for."""
    regulator = of(registry_store, "HEBEI")
    for code in ("XFER:H000", "XFER:H001"):
        draft = AccountDraft(code, "XFER", code, Side.CREDIT, True, None)
        registry.open_account(registry_store, regulator, draft)
    registry.open_account(
        registry_store,
        regulator,
        AccountDraft("XFER:issuance", "HEBEI", "x", Side.DEBIT, False, None),
    )
    journal.post_entry(registry_store, _move("fund", "XFER:issuance", "XFER:H000", "10"))

    posted = adjustments.post_entry(
        registry_store, regulator, _move("m1", "XFER:H000", "XFER:H001", "1")
    )

    assert isinstance(posted, journal.Posted)
    assert _posted(registry_store, "XFER:H001") == 1_000


def test_bulk_refuses_an_item_between_enterprises(registry_store: Store) -> None:
    items = [_move("m1", "E1:holdings", "E2:holdings", "1")]

    (result,) = adjustments.post_bulk(registry_store, of(registry_store, "HEBEI"), items)

    assert result.outcome == "rejected"
    assert result.error is not None
    assert result.error.code == "four_eyes_required"
