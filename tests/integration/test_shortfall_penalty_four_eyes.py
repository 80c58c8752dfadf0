"""Closing a carbon obligation with a shortfall books a penalty of 5 × the stated average price ×
the shortfall (rules §5): under four-eyes (`obligation_close`, on by default) one regulator's
price books nothing until a second regulator, another person, approves; a close without a
shortfall books no penalty and stays immediate."""

from __future__ import annotations

import pytest

from ledger.domain.access import FOUR_EYES_DEFAULT, Pending, RequestState, Role, SelfApproval
from ledger.domain.errors import RecordExists
from ledger.domain.registry import ComplianceStatus
from ledger.persistence.store import Store
from ledger.services import approvals, compliance, queries
from tests.factories import actor
from tests.integration.registry_support import after_deadline, build_registry, of
from tests.integration.test_carbon_compliance import DEADLINE, allocate, oblige, surrender

PRICE_FEN = 9_800  # CNY 98.00 per tCO2
SHORTFALL = 1_000  # tCO2, nothing surrendered
PENALTY_FEN = 5 * PRICE_FEN * SHORTFALL  # CNY 49,000,000


@pytest.fixture
def due(store: Store) -> Store:
    """E1 owes 1,000 tCO2 for 2024, surrendered nothing; the deadline has passed; four-eyes is
    the operator's default."""
    build_registry(store)
    oblige(store, "O1", "E1", SHORTFALL)
    after_deadline(store, DEADLINE)
    store.four_eyes = FOUR_EYES_DEFAULT
    return store


def owed_fen(store: Store) -> int:
    found = queries.get_balance(store, actor(store), "E1:penalties", "CNY")
    return found.balance.posted


def ask(store: Store, price_fen: int = PRICE_FEN) -> Pending:
    asked = compliance.close_deadline(store, of(store, "HEBEI"), "O1", price_fen)
    assert isinstance(asked, Pending)
    return asked


def second_regulator(store: Store) -> object:
    return actor(store, Role.REGULATOR, "HEBEI", principal="reg-b")


def test_one_regulator_cannot_close_with_a_shortfall_penalty_alone(due: Store) -> None:
    asked = ask(due)

    assert asked.request.state is RequestState.PENDING
    assert asked.request.operation == "obligation_close"
    assert dict(asked.request.payload) == {
        "obligation": "O1",
        "party_code": "E1",
        "average_price_fen": PRICE_FEN,
        "shortfall_units": SHORTFALL,
        "penalty_fen": PENALTY_FEN,
    }
    assert not compliance.status(due, of(due, "HEBEI"), "O1").obligation.closed
    assert owed_fen(due) == 0


def test_the_second_regulator_approves_and_the_penalty_is_booked(due: Store) -> None:
    asked = ask(due)

    decided = approvals.approve(
        due, actor(due, Role.REGULATOR, "HEBEI", principal="reg-b"), asked.request.id
    )

    assert decided.state is RequestState.APPLIED
    status = compliance.status(due, of(due, "HEBEI"), "O1")
    assert (status.obligation.closed, status.obligation.penalty_fen) == (True, PENALTY_FEN)
    assert status.obligation.deduction_units == SHORTFALL
    assert owed_fen(due) == PENALTY_FEN


def test_the_same_person_cannot_approve_under_another_principal(due: Store) -> None:
    asked = ask(due)
    same_person = actor(due, Role.REGULATOR, "HEBEI", principal="reg-a2", person="regulator-hebei")

    with pytest.raises(SelfApproval):
        approvals.approve(due, same_person, asked.request.id)
    assert not compliance.status(due, of(due, "HEBEI"), "O1").obligation.closed


def test_a_retry_answers_the_same_request_and_another_price_is_another(due: Store) -> None:
    first = ask(due)

    again = ask(due)
    other = ask(due, 1)

    assert (again.request.id, again.replayed) == (first.request.id, True)
    assert other.request.id != first.request.id
    with pytest.raises(RecordExists):  # another regulator's identical close is not its retry
        compliance.close_deadline(
            due, actor(due, Role.REGULATOR, "HEBEI", principal="reg-b"), "O1", PRICE_FEN
        )


def test_after_a_rejection_a_regulator_may_ask_again_at_another_price(due: Store) -> None:
    asked = ask(due)
    approvals.reject(
        due,
        actor(due, Role.REGULATOR, "HEBEI", principal="reg-b"),
        asked.request.id,
        "the price is too low",
    )

    again = ask(due, 10_000)

    assert again.request.id != asked.request.id
    assert again.request.state is RequestState.PENDING


def test_a_close_without_a_shortfall_is_immediate(store: Store) -> None:
    build_registry(store)
    oblige(store, "O1", "E1", SHORTFALL)
    allocate(store, "A1", "E1", 2024, SHORTFALL)
    surrender(store, "S1", SHORTFALL)
    after_deadline(store, DEADLINE)
    store.four_eyes = FOUR_EYES_DEFAULT

    closed = compliance.close_deadline(store, of(store, "HEBEI"), "O1", PRICE_FEN)

    assert isinstance(closed, ComplianceStatus)
    assert (closed.obligation.closed, closed.obligation.penalty_fen) == (True, 0)
