"""Carbon compliance per rules §7.9, through the services: no borrowing of later vintages, no
surrender beyond the obligation, a deadline closed only after it, and a shortfall deducted once
from later allocations, as records of their own, however the allocations come.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.domain.registry import ComplianceStatus, Obligation, Party, PartyKind
from ledger.persistence.store import Store
from ledger.services import compliance, parties, queries, rights
from tests.factories import actor
from tests.integration.registry_support import after_deadline, build_registry, of
from tests.integration.test_registry_rules import refused

DEADLINE = date(2025, 12, 31)  # of the 2024 obligations here


def at(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def built(store: Store) -> Store:
    build_registry(store)
    return store


def held(store: Store, account: str, instrument: str) -> int:
    return queries.get_balance(store, actor(store), account, instrument).balance.posted


def allocate(store: Store, allocation_id: str, party: str, year: int, units: int) -> int:
    made = rights.issue_carbon(
        store,
        of(store, "HEBEI"),
        allocation_id,
        party_code=party,
        family="CEA",
        year=year,
        units=units,
    )
    return made.record


def oblige(store: Store, obligation_id: str, party: str, verified: int, year: int = 2024) -> None:
    deadline = date(year + 1, 12, 31)
    compliance.set_obligation(
        store, of(store, "HEBEI"), Obligation(obligation_id, party, year, verified, deadline)
    )


def surrender(store: Store, request_id: str, units: int, instrument: str | None = None) -> object:
    request = compliance.SurrenderRequest(request_id, "O1", units, instrument)
    return compliance.surrender(store, of(store, "E1"), request)


def closed_with_shortfall(store: Store, party: str, shortfall: int, obligation: str) -> None:
    """A 2024 obligation of `shortfall` tCO2 with nothing surrendered, closed after its deadline."""
    oblige(store, obligation, party, shortfall)
    after_deadline(store, DEADLINE)
    compliance.close_deadline(store, of(store, "HEBEI"), obligation, 9_800)


# -- vintage limits and no over-surrender ------------------------------------------------------


def test_a_later_vintage_is_not_surrendered_against_an_earlier_obligation(built: Store) -> None:
    allocate(built, "A-2025", "E1", 2025, 2_000)
    oblige(built, "O1", "E1", 1_500)

    refused(built, "vintage_after_compliance_year", lambda: surrender(built, "S1", 100, "CEA-2025"))
    # Oldest first never reaches the later vintage either: 2025 allowances are not eligible.
    refused(built, "insufficient_balance", lambda: surrender(built, "S2", 100))


def test_a_banked_earlier_vintage_may_be_surrendered(built: Store) -> None:
    allocate(built, "A-2023", "E1", 2023, 500)
    oblige(built, "O1", "E1", 1_500)

    parts = surrender(built, "S1", 500, "CEA-2023")

    assert held(built, "E1:surrendered", "CEA-2023") == 500
    assert parts is not None


def test_no_surrender_beyond_the_obligation_the_surplus_stays_banked(built: Store) -> None:
    allocate(built, "A-2024", "E1", 2024, 5_000)
    oblige(built, "O1", "E1", 1_500)

    refused(built, "surrender_exceeds_obligation", lambda: surrender(built, "S1", 4_500))
    surrender(built, "S2", 1_000)
    refused(built, "surrender_exceeds_obligation", lambda: surrender(built, "S3", 501))
    surrender(built, "S4", 500)

    status = compliance.status(built, of(built, "E1"), "O1")
    assert (status.surrendered_units, status.shortfall_units) == (1_500, 0)
    assert held(built, "E1:holdings", "CEA-2024") == 3_500  # banked for later years


# -- the deadline ------------------------------------------------------------------------------


def test_an_obligation_closes_only_after_its_deadline(built: Store) -> None:
    oblige(built, "O1", "E1", 1_000, year=2030)
    built.clock = lambda: at(2031, 12, 31, 15)  # 23:00 in Beijing on the deadline

    refused(
        built,
        "deadline_not_passed",
        lambda: compliance.close_deadline(built, of(built, "HEBEI"), "O1", 9_800),
    )
    built.clock = lambda: at(2031, 12, 31, 16)  # midnight in Beijing: the day after
    closed = compliance.close_deadline(built, of(built, "HEBEI"), "O1", 9_800)

    assert isinstance(closed, ComplianceStatus)
    assert closed.obligation.closed


# -- the deduction of a shortfall ----------------------------------------------------------------


def test_a_shortfall_is_deducted_once_over_two_tranches(built: Store) -> None:
    closed_with_shortfall(built, "E1", 1_000, "O1")

    first = allocate(built, "A1", "E1", 2025, 600)
    second = allocate(built, "A2", "E1", 2025, 600)
    third = allocate(built, "A3", "E1", 2026, 600)

    assert (first, second, third) == (0, 200, 600)
    assert held(built, "E1:holdings", "CEA-2025") == 200
    status = compliance.status(built, of(built, "E1"), "O1")
    assert (status.deducted_units, status.deduction_outstanding_units) == (1_000, 0)
    seen = compliance.list_deductions(built, of(built, "E1"), "E1", None, None, 50).items
    assert [(d.allocation_id, d.units, d.allocated_units) for d in seen] == [
        ("A1", 600, 600),
        ("A2", 400, 600),
    ]


def test_a_shortfall_closed_after_next_year_was_allocated_is_not_lost(built: Store) -> None:
    allocate(built, "A-2025", "E1", 2025, 800)  # next year's allocation, before the close
    closed_with_shortfall(built, "E1", 300, "O1")

    issued = allocate(built, "A-2026", "E1", 2026, 1_000)

    assert issued == 700
    assert held(built, "E1:holdings", "CEA-2025") == 800
    assert compliance.status(built, of(built, "E1"), "O1").deduction_outstanding_units == 0


def test_an_allocation_of_the_same_or_an_earlier_year_deducts_nothing(built: Store) -> None:
    closed_with_shortfall(built, "E1", 300, "O1")

    assert allocate(built, "A-2024", "E1", 2024, 100) == 100
    assert compliance.list_deductions(built, of(built, "HEBEI"), "E1", None, None, 50).items == []


def test_an_allocation_again_answers_the_same_and_never_deducts_twice(built: Store) -> None:
    closed_with_shortfall(built, "E1", 1_000, "O1")
    allocate(built, "A1", "E1", 2025, 600)
    allocate(built, "A2", "E1", 2025, 600)

    again = rights.issue_carbon(
        built, of(built, "HEBEI"), "A2", party_code="E1", family="CEA", year=2025, units=600
    )
    zero_again = rights.issue_carbon(
        built, of(built, "HEBEI"), "A1", party_code="E1", family="CEA", year=2025, units=600
    )

    assert (again.record, again.replayed) == (200, True)
    assert (zero_again.record, zero_again.replayed) == (0, True)
    refused(
        built,
        "record_exists_with_different_definition",
        lambda: allocate(built, "A1", "E1", 2025, 700),
    )
    assert held(built, "E1:holdings", "CEA-2025") == 200


def test_an_enterprise_sees_only_its_own_deductions(built: Store) -> None:
    closed_with_shortfall(built, "E1", 100, "O1")
    closed_with_shortfall(built, "E2", 100, "O2")
    allocate(built, "A1", "E1", 2025, 600)
    allocate(built, "A2", "E2", 2025, 600)

    seen = compliance.list_deductions(built, of(built, "E1"), None, None, None, 50).items

    assert [d.party_code for d in seen] == ["E1"]


# -- whatever the tranches: deducted exactly once ---------------------------------------------

_PARTIES = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shortfall=st.integers(min_value=1, max_value=3_000),
    tranches=st.lists(
        st.tuples(st.sampled_from((2025, 2026, 2027)), st.integers(1, 1_500), st.booleans()),
        max_size=8,
    ),
)
def test_a_shortfall_is_deducted_exactly_once_whatever_the_tranches(
    built: Store, shortfall: int, tranches: list[tuple[int, int, bool]]
) -> None:
    """Tranches of any size, for any later year, some retried: the deductions add up to the
    shortfall or to all that was allocated, whichever is less, and each tranche issues what it
    allocated less what it deducted."""
    party = f"P{next(_PARTIES)}"
    parties.register_party(
        built, of(built, "HEBEI"), Party(party, PartyKind.ENTERPRISE, party, city="Tangshan")
    )
    closed_with_shortfall(built, party, shortfall, f"O-{party}")

    issued = []
    for number, (year, units, retried) in enumerate(tranches):
        allocation = f"{party}-A{number}"
        issued.append(allocate(built, allocation, party, year, units))
        if retried:
            assert allocate(built, allocation, party, year, units) == issued[-1]

    deductions = compliance.list_deductions(built, of(built, "HEBEI"), party, None, None, 100).items
    allocated = sum(units for _, units, _ in tranches)
    assert sum(d.units for d in deductions) == min(shortfall, allocated)
    assert sum(issued) == allocated - min(shortfall, allocated)
    assert len({d.allocation_id for d in deductions}) == len(deductions)  # one per tranche
    status = compliance.status(built, of(built, "HEBEI"), f"O-{party}")
    assert status.deduction_outstanding_units == shortfall - min(shortfall, allocated)
