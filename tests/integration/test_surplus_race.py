"""Reclaims and buy-backs of the same surplus racing on PostgreSQL (real concurrent writers).

Each checks, before booking, what it may take back: an entitlement's surplus, or what the
enterprise paid for. Eight at once (and eight approvals of buy-backs at once) take back at most
that much: the others are refused with the ledger's own code, and no deadlock happens.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.domain.access import FOUR_EYES_DEFAULT, Pending, RequestState, Role
from ledger.domain.errors import LedgerError
from ledger.domain.registry import Acquisition, Entitlement
from ledger.persistence.store import Store
from ledger.services import approvals, queries, rights
from ledger.services.rights import ReserveAction, ReserveOperation
from tests.factories import actor
from tests.integration.registry_support import build_registry, entitle, of
from tests.integration.support import counting_deadlocks
from tests.integration.test_concurrency import race

pytestmark = pytest.mark.postgres_only

THREADS = 8


@pytest.fixture
def built(postgres_store: Store) -> Store:
    """build_registry (E2 holds 10 t/a SO2 of a free entitlement, E2-SO2), with Tangshan's
    reserve; and another 10 t/a of SO2 and NOx for E2, free, so that its holdings never bound
    what it may give back: its entitlements do."""
    build_registry(postgres_store)
    entitle(postgres_store, "TANGSHAN", "SO2", 50_000)
    hebei = of(postgres_store, "HEBEI")
    for pollutant in ("SO2", "NOx"):
        more = Entitlement(f"E2-{pollutant}-more", "E2", pollutant, 10_000, 2026, 2030)
        rights.confirm_entitlement(postgres_store, hebei, more)
    return postgres_store


def take_back(  # noqa: PLR0917 - the decision's terms
    op_id: str,
    action: ReserveAction,
    pollutant: str,
    units: int,
    vintage: int,
    entitlement: str | None = None,
) -> ReserveOperation:
    """Tangshan takes back `units` t/a of E2's `vintage`; a buy-back at 5,000 CNY/t."""
    price = 500_000 if action is ReserveAction.BUY_BACK else 0
    return ReserveOperation(
        op_id,
        action,
        "TANGSHAN",
        pollutant,
        units,
        vintage,
        vintage,
        "E2",
        price,
        entitlement=entitlement,
    )


def outcome(call: Callable[[], object], refusal: str) -> str:
    """'booked', or the code of the expected refusal (any other error is raised)."""
    try:
        result = call()
    except LedgerError as error:
        if error.code != refusal:
            raise
        return error.code
    assert not isinstance(result, Pending)
    return "booked"


def held(store: Store, instrument: str) -> int:
    return queries.get_balance(store, actor(store), "E2:holdings", instrument).balance.posted


def test_racing_reclaims_take_back_at_most_the_entitlements_surplus(built: Store) -> None:
    """E2-SO2 confirmed 10 t/a in 2027 (E2 holds 20): eight reclaims of 3 t/a naming it at
    once, three book."""
    tangshan = of(built, "TANGSHAN")

    def reclaim(index: int) -> str:
        op = take_back(f"R{index}", ReserveAction.RECLAIM, "SO2", 3_000, 2027, "E2-SO2")
        return outcome(lambda: rights.reserve_operation(built, tangshan, op), "surplus_exceeded")

    with counting_deadlocks() as deadlocks:
        outcomes = race(reclaim, THREADS)

    assert outcomes.count("booked") == 3
    assert outcomes.count("surplus_exceeded") == THREADS - 3
    assert held(built, "SO2-2027") == 11_000
    assert deadlocks == []


def test_racing_buy_backs_naming_no_entitlement_pay_only_for_rights_bought(built: Store) -> None:
    """E2 bought 5 t/a of 2026 in a reserve sale and holds 25 t/a: eight buy-backs of 2 t/a at
    once naming no entitlement, two book."""
    tangshan = of(built, "TANGSHAN")
    sale = ReserveOperation(
        "S1", ReserveAction.SALE, "TANGSHAN", "SO2", 5_000, 2026, 2026, "E2", 600_000
    )
    rights.reserve_operation(built, tangshan, sale)

    def buy_back(index: int) -> str:
        op = take_back(f"B{index}", ReserveAction.BUY_BACK, "SO2", 2_000, 2026)
        return outcome(lambda: rights.reserve_operation(built, tangshan, op), "rights_not_paid_for")

    with counting_deadlocks() as deadlocks:
        outcomes = race(buy_back, THREADS)

    assert outcomes.count("booked") == 2
    assert outcomes.count("rights_not_paid_for") == THREADS - 2
    assert held(built, "SO2-2026") == 21_000
    assert deadlocks == []


def test_racing_approvals_of_buy_backs_take_back_at_most_the_surplus(built: Store) -> None:
    """Eight buy-backs of 4 t/a of a paid 10 t/a entitlement (E2 holds 20) are asked for one
    after another (each passes: nothing is taken back yet); approved all at once, two are
    applied and the others refused, still pending."""
    paid = Entitlement("E2-NOx", "E2", "NOx", 10_000, 2026, 2030, acquisition=Acquisition.PAID)
    rights.confirm_entitlement(built, of(built, "HEBEI"), paid)
    built.four_eyes = FOUR_EYES_DEFAULT
    asking = actor(built, Role.CITY_AUTHORITY, "TANGSHAN", principal="ts-a")
    approving = actor(built, Role.CITY_AUTHORITY, "TANGSHAN", principal="ts-b")
    requests = []
    for index in range(THREADS):
        op = take_back(f"B{index}", ReserveAction.BUY_BACK, "NOx", 4_000, 2027, "E2-NOx")
        asked = rights.reserve_operation(built, asking, op)
        assert isinstance(asked, Pending)
        requests.append(asked.request.id)

    def approve(index: int) -> str:
        return outcome(
            lambda: approvals.approve(built, approving, requests[index]), "surplus_exceeded"
        )

    with counting_deadlocks() as deadlocks:
        outcomes = race(approve, THREADS)

    assert outcomes.count("booked") == 2
    assert outcomes.count("surplus_exceeded") == THREADS - 2
    assert held(built, "NOx-2027") == 12_000
    states = [approvals.get(built, approving, request).state for request in requests]
    assert states.count(RequestState.APPLIED) == 2
    assert states.count(RequestState.PENDING) == THREADS - 2
    assert deadlocks == []
