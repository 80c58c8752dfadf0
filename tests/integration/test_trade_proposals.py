"""Proposing a trade twice under one id: the same proposal again (a client's retry) answers the
stored trade and changes nothing; another definition is `record_exists_with_different_definition`.
What counts is what the proposer sent, not the state or vintages the ledger derived."""

from __future__ import annotations

import pytest

from ledger.domain.errors import LedgerError, RecordExists
from ledger.persistence.store import Store
from ledger.services import trading
from tests.integration.registry_support import build_registry, fingerprint, of, so2_trade


@pytest.fixture
def built(store: Store) -> Store:
    build_registry(store)
    return store


def test_the_same_proposal_again_is_the_stored_trade_and_changes_nothing(built: Store) -> None:
    seller = of(built, "E1")
    first = trading.propose(built, seller, so2_trade("X1"))
    trading.accept(built, of(built, "E2"), "X1")
    before = fingerprint(built)

    again = trading.propose(built, seller, so2_trade("X1"))

    assert (first.replayed, again.replayed) == (False, True)
    assert again.record.state.value == "accepted"
    assert (again.record.first_vintage, again.record.last_vintage) == (
        first.record.first_vintage,
        2030,
    )
    assert fingerprint(built) == before


def test_the_counterparty_sending_the_same_proposal_is_refused(built: Store) -> None:
    trading.propose(built, of(built, "E1"), so2_trade("X1"))
    buyer = of(built, "E2")
    before = fingerprint(built)

    with pytest.raises(RecordExists):  # as its own proposal: not a retry of the seller's
        trading.propose(built, buyer, so2_trade("X1", proposer=""))
    with pytest.raises(LedgerError) as caught:  # in the seller's name
        trading.propose(built, buyer, so2_trade("X1"))
    assert caught.value.code == "actor_mismatch"
    assert fingerprint(built) == before


def test_a_carbon_proposal_naming_another_year_is_record_exists(built: Store) -> None:
    carbon = so2_trade("C1", family="CEA", units=1_000, price_fen=8_000)
    seller = of(built, "E1")
    trading.propose(built, seller, carbon, vintage=2025)
    before = fingerprint(built)

    assert trading.propose(built, seller, carbon, vintage=2025).replayed
    with pytest.raises(RecordExists):
        trading.propose(built, seller, carbon, vintage=2026)
    assert fingerprint(built) == before
