"""The trade steps' combined reads answer what the reads they replace answer (issue 18): the
rules' one read (policy, receiving city and its decision, the parties' blocks, a closed period)
and the hold's one read (its entry, postings and references), on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger.domain.access import Role
from ledger.domain.bounds import DateOutOfRange
from ledger.domain.entries import EntryRecord
from ledger.domain.errors import PendingAlreadyVoided
from ledger.domain.registry import BlockKind, CityYear, TradeState, TradingBlock
from ledger.persistence.store import Store
from ledger.services import blocks, journal, parties, periods, trading
from tests.factories import actor
from tests.integration.registry_support import TRADE_DAY, build_registry, of, so2_trade

OPEN = datetime(2026, 3, 1, tzinfo=UTC)


def test_the_rules_read_answers_as_the_reads_it_replaces(store: Store) -> None:
    build_registry(store)
    regulator = of(store, "HEBEI")
    parties.decide_city_year(store, regulator, CityYear("Chengde", 2026, True, "met"))
    leased = TradingBlock("B1", "E1", BlockKind.LEASING, TRADE_DAY, "SO2")
    blocks.set_block(store, regulator, leased)
    blocks.set_block(store, regulator, TradingBlock("B2", "E4", BlockKind.ENFORCEMENT, TRADE_DAY))
    blocks.set_block(store, regulator, TradingBlock("B3", "E2", BlockKind.ENFORCEMENT, TRADE_DAY))
    blocks.lift_block(store, regulator, "B2", date(2026, 3, 2))
    store.clock = lambda: datetime(2026, 5, 1, tzinfo=UTC)
    periods.close_period(store, actor(store, Role.FINANCE), "2026-02")
    closed = datetime(2026, 2, 10, tzinfo=UTC)
    cases: list[tuple[str, str, str | None, int, datetime]] = [
        ("E1", "E4", "Chengde", 2026, OPEN),
        ("E1", "E4", "Chengde", 2027, closed),
        ("E4", "E1", None, 2026, OPEN),
        ("E2", "E3", "Nowhere", 2026, OPEN),
    ]
    with store() as uow:
        for giver, receiver, city, year, moment in cases:
            found = uow.registry.transfer_rules(giver, receiver, city, year, moment)
            assert found.policy == uow.registry.get_policy()
            assert (found.city, found.decision) == (
                uow.registry.city_in_year(city, year) if city else (None, None)
            )
            assert found.blocks == uow.registry.blocks_of(sorted({giver, receiver}))
            assert found.closed_period == uow.finance.closed_period_among([moment])
    assert [b.id for b in found.blocks] == ["B3"]


def _accepted_x1_hold(store: Store) -> EntryRecord:
    """Trade X1 (E1 sells to E4) proposed and accepted: its hold, read whole."""
    build_registry(store)
    trading.propose(store, of(store, "E1"), so2_trade("X1", buyer="E4"))
    trading.accept(store, of(store, "E4"), "X1")
    with store() as uow:
        hold = uow.journal.get_whole("trade-X1-hold")
    assert hold is not None
    return hold


def test_the_hold_read_whole_is_the_hold_read_in_three(store: Store) -> None:
    hold = _accepted_x1_hold(store)
    with store() as uow:
        assert len(hold.postings) > 2
        assert hold == uow.journal.get_many(["trade-X1-hold"])["trade-X1-hold"]
        assert uow.journal.get_whole("trade-X9-hold") is None


def test_the_proposal_read_answers_as_the_reads_it_replaces(store: Store) -> None:
    build_registry(store)
    trading.propose(store, of(store, "E1"), so2_trade("X1", buyer="E4"))
    cases = [("X1", "E1", "E4", "SO2"), ("X2", "E2", "E9", "SO2"), ("X3", "E4", "E1", "COD")]
    with store() as uow:
        for trade_id, seller, buyer, family in cases:
            found = uow.registry.proposal_context(trade_id, seller, buyer, family, OPEN)
            assert found.existing == uow.registry.get_trade(trade_id)
            assert found.parties == uow.registry.get_parties([seller, buyer])
            assert found.policy == uow.registry.get_policy()
            held = [e for _, e in uow.registry.list_entitlements(seller, family, 0, 1000)]
            firsts, lasts = [e.first_vintage for e in held], [e.last_vintage for e in held]
            assert found.entitled == ((min(firsts), max(lasts)) if held else None)
            assert found.closed_period is None
    assert found.existing is None


def test_a_hold_resolved_before_the_recording_is_refused_and_found_by_the_rules_read(
    store: Store,
) -> None:
    hold = _accepted_x1_hold(store)
    with store() as uow:
        found = uow.registry.transfer_rules("E1", "E4", "Chengde", 2026, OPEN, hold.seq)
        assert found.pending_resolved is False
    journal.void_pending_entry(store, journal.ResolvePending("trade-X1-hold", "elsewhere"))
    with store() as uow:
        found = uow.registry.transfer_rules("E1", "E4", "Chengde", 2026, OPEN, hold.seq)
        assert found.pending_resolved is True
    with pytest.raises(PendingAlreadyVoided):
        trading.record(store, of(store, "HEBEI"), "X1")
    assert trading.get_trade(store, of(store, "HEBEI"), "X1")[0].state is TradeState.ACCEPTED


@pytest.mark.parametrize("day", [date(1, 1, 1), date(9999, 12, 31)])
def test_a_proposal_dated_at_the_calendar_s_ends_is_refused_by_its_rule(
    store: Store, day: date
) -> None:
    """The proposal read needs the day's instant; a caller past the API's bounds (the CLI, the
    demo loader) still gets the date's rule, not an overflow."""
    build_registry(store)
    with pytest.raises(DateOutOfRange) as refused:
        trading.propose(store, of(store, "E1"), so2_trade("X1", trade_date=day))
    assert refused.value.field == "trade_date"
