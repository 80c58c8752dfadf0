"""A carbon obligation's shortfall penalty (rules §5) is paid through the ledger, through the
services: in parts, never beyond what it still owes, each payment a `penalty_payment` entry from
the enterprise's cash to its penalties referencing the obligation, a retry answered once, and
the compliance status shows what was paid and what is still owed. An obligation without a
penalty has nothing to pay; another enterprise does not see the obligation at all.
"""

from __future__ import annotations

from datetime import date

import pytest

from ledger.domain.access import Forbidden, Role
from ledger.domain.entries import Reference
from ledger.domain.errors import InvalidField, RecordExists, RecordNotFound
from ledger.domain.penalties import NoPenaltyOwed, PaymentExceedsOwed, PenaltyPayment
from ledger.persistence.store import Store
from ledger.services import compliance, queries
from tests.factories import actor
from tests.integration.registry_support import build_registry, of
from tests.integration.test_carbon_compliance import allocate, closed_with_shortfall, oblige
from tests.integration.test_rights_penalties import posted

PENALTY = 490_000_00  # 1,000 tCO2 short × 98.00 CNY × 5, in fen


@pytest.fixture
def owing(store: Store) -> Store:
    """E1 (1,000,000 CNY) closed its 2024 obligation O1 1,000 tCO2 short: it owes the penalty."""
    build_registry(store)
    closed_with_shortfall(store, "E1", 1_000, "O1")
    return store


def pay(store: Store, payment_id: str, fen: int, party: str = "E1", **kwargs: date) -> object:
    payment = PenaltyPayment(payment_id, "O1", fen)
    return compliance.pay_shortfall_penalty(store, of(store, party), payment, **kwargs)


def test_the_penalty_is_paid_from_cash_in_parts_up_to_what_it_owes(owing: Store) -> None:
    cash_before = posted(owing, "E1:cash")
    assert posted(owing, "E1:penalties") == PENALTY

    part = compliance.pay_shortfall_penalty(
        owing, of(owing, "E1"), PenaltyPayment("P1", "O1", 90_000_00)
    )
    with pytest.raises(PaymentExceedsOwed) as over:
        pay(owing, "P2", PENALTY - 90_000_00 + 1)
    rest = compliance.pay_shortfall_penalty(
        owing, of(owing, "E1"), PenaltyPayment("P2", "O1", PENALTY - 90_000_00)
    )

    assert over.value.field == "amount_cny"
    assert (part.record.penalty_paid_fen, part.record.penalty_outstanding_fen) == (
        90_000_00,
        PENALTY - 90_000_00,
    )
    assert (rest.record.penalty_paid_fen, rest.record.penalty_outstanding_fen) == (PENALTY, 0)
    assert not part.replayed and not rest.replayed
    assert posted(owing, "E1:penalties") == 0
    assert posted(owing, "E1:cash") == cash_before - PENALTY
    assert posted(owing, "HEBEI:revenue") == PENALTY  # booked at the deadline, not again
    status = compliance.status(owing, of(owing, "E1"), "O1")
    assert (status.penalty_paid_fen, status.penalty_outstanding_fen) == (PENALTY, 0)
    assert queries.check_invariants(owing, of(owing, "HEBEI")) == []


def test_a_payment_is_an_entry_referencing_the_obligation_and_the_payment(owing: Store) -> None:
    pay(owing, "P1", 1_00)

    with owing(read_only=True) as uow:
        entry = uow.journal.get_many(["obligation-penalty-payment-P1"])[
            "obligation-penalty-payment-P1"
        ]

    assert entry.entry_type == "penalty_payment"
    assert entry.references == (Reference("obligation", "O1"), Reference("payment", "P1"))
    assert sorted((p.account_code, p.side.value, p.units) for p in entry.postings) == [
        ("E1:cash", "debit", 1_00),
        ("E1:penalties", "credit", 1_00),
    ]


def test_a_retry_answers_the_payment_once_and_another_under_its_id_is_refused(
    owing: Store,
) -> None:
    first = compliance.pay_shortfall_penalty(
        owing, of(owing, "E1"), PenaltyPayment("P1", "O1", 100_00)
    )
    again = compliance.pay_shortfall_penalty(
        owing, of(owing, "E1"), PenaltyPayment("P1", "O1", 100_00)
    )

    assert (again.replayed, again.record) == (True, first.record)
    with pytest.raises(RecordExists):
        pay(owing, "P1", 200_00)
    with pytest.raises(RecordExists):
        pay(owing, "P1", 100_00, business_date=date(2026, 1, 1))
    assert posted(owing, "E1:penalties") == PENALTY - 100_00


def test_an_obligation_without_a_penalty_has_nothing_to_pay(owing: Store) -> None:
    oblige(owing, "O2", "E2", 10, year=2025)  # open: its deadline is not closed yet
    oblige(owing, "O3", "E2", 10)  # 2024: covered in full, then closed without a shortfall
    allocate(owing, "A-E2-2024", "E2", 2024, 10)
    surrender = compliance.SurrenderRequest("S3", "O3", 10)
    compliance.surrender(owing, of(owing, "E2"), surrender)
    compliance.close_deadline(owing, of(owing, "HEBEI"), "O3", 9_800)

    for obligation in ("O2", "O3"):
        with pytest.raises(NoPenaltyOwed) as refused:
            compliance.pay_shortfall_penalty(
                owing, of(owing, "E2"), PenaltyPayment("P1", obligation, 1_00)
            )
        assert refused.value.field == "obligation"
    with pytest.raises(InvalidField):
        pay(owing, "P1", 0)
    assert posted(owing, "E2:penalties") == 0
    assert posted(owing, "E1:penalties") == PENALTY


def test_who_may_pay_is_who_may_pay_a_rights_penalty_within_its_scope(owing: Store) -> None:
    with pytest.raises(RecordNotFound):
        pay(owing, "P1", 1_00, party="E2")
    with pytest.raises(Forbidden):
        payment = PenaltyPayment("P1", "O1", 1_00)
        compliance.pay_shortfall_penalty(owing, actor(owing, Role.VERIFIER), payment)
    for n, payer in enumerate((actor(owing, Role.FINANCE), of(owing, "HEBEI"))):
        compliance.pay_shortfall_penalty(owing, payer, PenaltyPayment(f"P{n}", "O1", 1_00))

    assert posted(owing, "E1:penalties") == PENALTY - 2_00
