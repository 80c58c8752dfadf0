"""Emission-rights compliance per rules §7.10, through the services: pledged rights count as
held, an hourly exceedance is non-compliance, and a regulator books a penalty for a finding as a
receivable entry that the enterprise pays through the ledger (and no one else sees)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.domain.access import FOUR_EYES_DEFAULT, Pending, Role
from ledger.domain.errors import InvalidField, RecordExists, RecordNotFound
from ledger.domain.pages import Created
from ledger.domain.penalties import NotNonCompliant, PaymentExceedsOwed, PenaltyPayment
from ledger.domain.penalties import RightsPenalty as Penalty
from ledger.domain.registry import Entitlement, Pledge
from ledger.persistence.store import Store
from ledger.services import approvals, penalties, queries, reductions, rights
from tests.factories import actor
from tests.integration.tax_support import P, build_tax_registry, filer, line, regulator
from tests.integration.tax_support import verified_report as report_of

D = Decimal
AMOUNT = 200_000_00  # CNY 200,000 in fen


@pytest.fixture
def registry(store: Store) -> Store:
    """E01 holds 100 t/a of SO2 (2026-2030) and 1,000,000 CNY."""
    build_tax_registry(store)
    entitlement = Entitlement("E01-SO2", "E01", "SO2", 100_000, 2026, 2030)
    rights.confirm_entitlement(store, regulator(store), entitlement)
    return store


def so2_report(store: Store, tonnes: int, *, exceedances: int = 0) -> str:
    """A verified 2026 report of E01: `tonnes` of SO2 in January."""
    month = date(2026, 1, 1)
    lines = [line(month, P.SO2, "20", "35", mass=D(tonnes * 1_000), exceedances=exceedances)]
    return report_of(store, "E01", "2026-01", lines)


def posted(store: Store, account: str, instrument: str = "CNY") -> int:
    with store(read_only=True) as uow:
        found = uow.accounts.get_many([account])[account]
        balance = uow.journal.balance_of(found.id, instrument)
        return 0 if balance is None else balance.posted


def test_pledged_rights_still_count_as_held(registry: Store) -> None:
    pledge = Pledge("PL1", "E01", "SO2", 100_000, "Bank", 2026, 2030)
    rights.pledge(registry, regulator(registry), pledge)
    report = so2_report(registry, 40)

    (obligation,) = reductions.rights_obligations(registry, filer(registry), report)

    assert (obligation.held_units, obligation.pledged_units) == (100_000, 100_000)
    assert (obligation.shortfall_units, obligation.compliant) == (0, True)


def test_an_hourly_exceedance_or_a_shortfall_is_non_compliance(registry: Store) -> None:
    within = so2_report(registry, 40, exceedances=2)
    above = report_of(
        registry, "E01", "2026-02", [line(date(2026, 2, 1), P.SO2, "20", "35", mass=D(120_000))]
    )

    (exceeded,) = reductions.rights_obligations(registry, filer(registry), within)
    (short,) = reductions.rights_obligations(registry, filer(registry), above)

    assert (exceeded.compliant, exceeded.findings) == (False, ("exceedances",))
    assert (short.compliant, short.findings, short.shortfall_units) == (
        False,
        ("shortfall",),
        20_000,
    )


def test_a_penalty_is_booked_for_a_finding_as_a_receivable(registry: Store) -> None:
    report = so2_report(registry, 40, exceedances=1)

    booked = penalties.book_penalty(
        registry, regulator(registry), Penalty("F1", "", report, "SO2", AMOUNT)
    )
    again = penalties.book_penalty(
        registry, regulator(registry), Penalty("F1", "", report, "SO2", AMOUNT)
    )

    assert isinstance(booked, Created) and isinstance(again, Created)
    assert booked.record.party_code == "E01" and booked.record.findings == ("exceedances",)
    assert again.replayed
    assert posted(registry, "E01:penalties") == AMOUNT
    entry = queries.get_entry(registry, regulator(registry), "rights-penalty-F1").record
    assert entry.entry_type == "penalty"
    assert {r.kind for r in entry.references} == {"report", "rights_penalty"}
    with pytest.raises(RecordExists):
        penalties.book_penalty(
            registry, regulator(registry), Penalty("F1", "", report, "SO2", AMOUNT + 1)
        )


def test_no_penalty_without_a_finding_nor_outside_the_statutory_range(registry: Store) -> None:
    clean = so2_report(registry, 40)
    exceeded = report_of(
        registry,
        "E01",
        "2026-02",
        [line(date(2026, 2, 1), P.SO2, "20", "35", mass=D(1_000), exceedances=3)],
    )

    with pytest.raises(NotNonCompliant):
        penalties.book_penalty(
            registry, regulator(registry), Penalty("F1", "", clean, "SO2", AMOUNT)
        )
    for amount in (99_999_99, 1_000_000_01):
        with pytest.raises(InvalidField):
            penalties.book_penalty(
                registry, regulator(registry), Penalty("F2", "", exceeded, "SO2", amount)
            )
    assert posted(registry, "E01:penalties") == 0


def test_a_penalty_is_paid_through_the_ledger_up_to_what_it_owes(registry: Store) -> None:
    report = so2_report(registry, 40, exceedances=1)
    penalties.book_penalty(registry, regulator(registry), Penalty("F1", "", report, "SO2", AMOUNT))
    e01 = filer(registry)
    cash_before = posted(registry, "E01:cash")

    part = penalties.pay_penalty(registry, e01, PenaltyPayment("PAY1", "F1", 50_000_00))
    with pytest.raises(PaymentExceedsOwed):
        penalties.pay_penalty(registry, e01, PenaltyPayment("PAY2", "F1", 150_000_01))
    rest = penalties.pay_penalty(registry, e01, PenaltyPayment("PAY2", "F1", 150_000_00))
    retried = penalties.pay_penalty(registry, e01, PenaltyPayment("PAY2", "F1", 150_000_00))

    assert part.record.outstanding_fen == 150_000_00
    assert (rest.record.outstanding_fen, retried.replayed) == (0, True)
    assert posted(registry, "E01:penalties") == 0
    assert posted(registry, "E01:cash") == cash_before - AMOUNT
    assert posted(registry, "HEBEI:revenue") == AMOUNT
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_another_enterprise_does_not_see_a_penalty(registry: Store) -> None:
    report = so2_report(registry, 40, exceedances=1)
    penalties.book_penalty(registry, regulator(registry), Penalty("F1", "", report, "SO2", AMOUNT))
    e02 = filer(registry, "E02")

    with pytest.raises(RecordNotFound):
        penalties.get_penalty(registry, e02, "F1")
    with pytest.raises(RecordNotFound):
        penalties.pay_penalty(registry, e02, PenaltyPayment("PAY1", "F1", 1_00))
    assert penalties.list_penalties(registry, e02, None, None, 10).items == []
    assert [
        p.penalty.id
        for p in penalties.list_penalties(registry, filer(registry), None, None, 10).items
    ] == ["F1"]


def test_under_four_eyes_a_penalty_is_booked_once_a_second_regulator_approves(
    registry: Store,
) -> None:
    registry.four_eyes = FOUR_EYES_DEFAULT  # `penalty` is in it
    report = so2_report(registry, 40, exceedances=1)

    asked = penalties.book_penalty(
        registry, regulator(registry), Penalty("F1", "", report, "SO2", AMOUNT)
    )
    assert isinstance(asked, Pending)
    assert posted(registry, "E01:penalties") == 0
    approvals.approve(
        registry, actor(registry, Role.REGULATOR, principal="reg-b"), asked.request.id
    )

    assert posted(registry, "E01:penalties") == AMOUNT
    assert penalties.get_penalty(registry, regulator(registry), "F1").outstanding_fen == AMOUNT
