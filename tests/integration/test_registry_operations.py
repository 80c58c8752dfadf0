"""Regulator operations and compliance through the services: each books one entry of its own
type referencing its record, and moves exactly what it says."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.domain.pages import Created
from ledger.domain.registry import ComplianceStatus, Obligation, Pledge
from ledger.persistence.store import Store
from ledger.services import compliance, queries, rights
from tests.factories import actor
from tests.integration.registry_support import after_deadline, build_registry, entitle, of

Action = rights.ReserveAction


@pytest.fixture
def built(store: Store) -> Store:
    build_registry(store)
    entitle(store, "TANGSHAN", "SO2", 50_000)
    return store


def held(store: Store, account: str, instrument: str) -> int:
    return queries.get_balance(store, actor(store), account, instrument).balance.posted


def operate(store: Store, op_id: str, action: Action, units: int, price_fen: int = 0) -> str:
    party = None if action is Action.CANCELLATION else "E1"
    op = rights.ReserveOperation(
        op_id, action, "TANGSHAN", "SO2", units, 2026, 2027, party, price_fen
    )
    booked = rights.reserve_operation(store, of(store, "TANGSHAN"), op)
    assert isinstance(booked, Created)  # four-eyes is off in these tests
    (record,) = booked.record
    return record.entry_type


def test_each_reserve_operation_books_its_own_entry_type_and_moves_rights(built: Store) -> None:
    types = [
        operate(built, "D1", Action.SALE, 5_000, 500_000),
        operate(built, "D2", Action.BUY_BACK, 2_000, 500_000),
        operate(built, "D3", Action.RECLAIM, 1_000),
        operate(built, "D4", Action.CONFISCATION, 1_000),
        operate(built, "D5", Action.CANCELLATION, 3_000),
    ]

    assert types == ["reserve_sale", "buy_back", "reclaim", "confiscation", "cancellation"]
    assert held(built, "E1:holdings", "SO2-2027") == 100_000 + 5_000 - 2_000 - 1_000 - 1_000
    assert held(built, "TANGSHAN:reserve", "SO2-2027") == 50_000 - 5_000 + 2_000 + 1_000 - 3_000
    assert held(built, "TANGSHAN:cancellation", "SO2-2026") == 4_000
    assert held(built, "E1:holdings", "SO2-2028") == 100_000  # outside the operation's vintages
    # Sale: 5 t × 5,000 CNY to revenue; buy-back: 2 t × 5,000 CNY from the budget.
    assert held(built, "TANGSHAN:revenue", "CNY") == 2_500_000
    assert held(built, "TANGSHAN:cash", "CNY") == -1_000_000
    entry = queries.get_entry(built, of(built, "HEBEI"), "reserve_sale-D1").record
    assert [(r.kind, r.id) for r in entry.references] == [("decision", "D1")]


def test_a_pledge_and_its_release_move_rights_to_the_pledged_account_and_back(
    built: Store,
) -> None:
    rights.pledge(built, of(built, "HEBEI"), Pledge("P1", "E1", "SO2", 30_000, "Bank", 2026, 2027))
    assert held(built, "E1:pledged", "SO2-2027") == 30_000
    assert held(built, "E1:holdings", "SO2-2027") == 70_000

    released = rights.release_pledge(built, of(built, "HEBEI"), "P1")

    assert released.released
    assert held(built, "E1:pledged", "SO2-2027") == 0
    assert held(built, "E1:holdings", "SO2-2027") == 100_000


def test_expiring_a_vintage_retires_every_holding_of_it(built: Store) -> None:
    rights.pledge(built, of(built, "HEBEI"), Pledge("P1", "E1", "SO2", 30_000, "Bank", 2026, 2026))

    emptied = rights.expire_vintage(built, of(built, "HEBEI"), "SO2", 2026)

    assert emptied == 4  # E1 holdings and pledged, E2 holdings, the Tangshan reserve
    assert held(built, "HEBEI:retirement", "SO2-2026") == 100_000 + 10_000 + 50_000
    assert held(built, "E1:holdings", "SO2-2026") == 0
    assert held(built, "E1:holdings", "SO2-2027") == 100_000
    assert queries.check_invariants(built, actor(built)) == []


def test_surrender_takes_the_oldest_vintage_first_and_the_status_follows(built: Store) -> None:
    for year, units in ((2025, 300), (2026, 900)):
        rights.issue_carbon(
            built,
            of(built, "HEBEI"),
            f"E1-{year}",
            party_code="E1",
            family="CEA",
            year=year,
            units=units,
        )
    compliance.set_obligation(
        built, of(built, "HEBEI"), Obligation("O1", "E1", 2026, 1_000, date(2027, 12, 31))
    )

    parts = compliance.surrender(
        built, of(built, "E1"), compliance.SurrenderRequest("S1", "O1", 500)
    ).record
    status = compliance.status(built, of(built, "E1"), "O1")

    assert [(p.instrument_code, p.units) for p in parts] == [("CEA-2025", 300), ("CEA-2026", 200)]
    assert (status.surrendered_units, status.shortfall_units) == (500, 500)
    assert (status.holdings_units, status.projected_shortfall_units) == (700, 0)


def test_the_deadline_books_the_penalty_and_deducts_the_shortfall_from_next_year(
    built: Store,
) -> None:
    rights.issue_carbon(
        built, of(built, "HEBEI"), "E1-2026", party_code="E1", family="CEA", year=2026, units=900
    )
    compliance.set_obligation(
        built, of(built, "HEBEI"), Obligation("O1", "E1", 2026, 1_000, date(2027, 12, 31))
    )
    compliance.surrender(built, of(built, "E1"), compliance.SurrenderRequest("S1", "O1", 900))

    after_deadline(built)
    closed = compliance.close_deadline(built, of(built, "HEBEI"), "O1", 9_800)
    assert isinstance(closed, ComplianceStatus)  # four-eyes is off here
    issued = rights.issue_carbon(
        built, of(built, "HEBEI"), "E1-2027", party_code="E1", family="CEA", year=2027, units=1_000
    )

    assert (closed.obligation.penalty_fen, closed.obligation.deduction_units) == (4_900_000, 100)
    assert held(built, "E1:penalties", "CNY") == 4_900_000
    assert held(built, "HEBEI:revenue", "CNY") == 4_900_000
    assert issued.record == 900
    assert held(built, "E1:holdings", "CEA-2027") == 900
    penalty = queries.get_entry(built, of(built, "HEBEI"), "obligation-O1-penalty").record
    assert penalty.entry_type == "penalty"
    assert Decimal(penalty.metadata["average_price"]) == Decimal("98.00")
