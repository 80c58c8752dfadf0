"""Proposing a trade twice under one id: the same proposal again (a client's retry) answers the
stored trade and changes nothing; another definition is `record_exists_with_different_definition`.
What counts is what the proposer sent, not the state or vintages the ledger derived."""

from __future__ import annotations

import pytest

from ledger.domain.errors import RecordExists
from ledger.persistence.store import Store
from ledger.services import trading
from tests.integration.registry_support import build_registry, fingerprint, so2_trade


@pytest.fixture
def built(store: Store) -> Store:
    build_registry(store)
    return store


def test_the_same_proposal_again_is_the_stored_trade_and_changes_nothing(built: Store) -> None:
    proposed, created = trading.propose(built, so2_trade("X1"))
    trading.accept(built, "X1", "E2")
    before = fingerprint(built)

    again, created_again = trading.propose(built, so2_trade("X1"))

    assert (created, created_again) == (True, False)
    assert again.state.value == "accepted"
    assert (again.first_vintage, again.last_vintage) == (proposed.first_vintage, 2030)
    assert fingerprint(built) == before


def test_a_carbon_proposal_naming_another_year_is_record_exists(built: Store) -> None:
    carbon = so2_trade("C1", family="CEA", units=1_000, price_fen=8_000)
    trading.propose(built, carbon, vintage=2025)
    before = fingerprint(built)

    assert trading.propose(built, carbon, vintage=2025)[1] is False
    with pytest.raises(RecordExists):
        trading.propose(built, carbon, vintage=2026)
    assert fingerprint(built) == before
