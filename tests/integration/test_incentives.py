"""Tax incentives in the ledger: capped by their verified basis in the database itself, reversed
with the report they rest on, the CIT equipment credit and its clawback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from ledger.domain.errors import PartyNotFound, RecordExists
from ledger.domain.incentives import (
    ClawbackNotDue,
    IncentiveAlreadyReversed,
    IncentiveBasisVoid,
    IncentiveExceedsBasis,
    IncentiveKind,
    IncentiveNotFound,
    ReversalReason,
)
from ledger.domain.tax_filing import Quarter
from ledger.persistence import tables as t
from ledger.persistence.store import Store
from ledger.services import incentives, queries, tax
from tests.integration.tax_support import (
    build_tax_registry,
    filer,
    invalidate,
    regulator,
    verified_report,
    worked_example,
)

D = Decimal
Q2 = Quarter(2026, 2)
DESOX = incentives.EquipmentInvestment("DESOX-1", "E01", 100_000_000, date(2024, 3, 1))
MONTHLY_REDUCTION_FEN = 2_468_094  # rules §1.3: 24,680.94 CNY


@pytest.fixture
def registry(store: Store) -> Store:
    build_tax_registry(store)
    return store


def balance(store: Store, account: str) -> int:
    with store(read_only=True) as uow:
        found = uow.accounts.get_many([account])[account]
        row = uow.journal.balance_of(found.id, "CNY")
        return 0 if row is None else row.posted


def file_worked_quarter(store: Store) -> tuple[str, str]:
    months = Q2.months()
    report = verified_report(store, "E01", "2026Q2", [x for m in months for x in worked_example(m)])
    return report, tax.file_return(store, filer(store), "E01", Q2).record.id


def test_the_article_13_incentive_moves_tax_expenditure_to_the_enterprise(registry: Store) -> None:
    file_worked_quarter(registry)

    assert balance(registry, "E01:tax_incentives") == 3 * MONTHLY_REDUCTION_FEN
    assert balance(registry, "HEBEI:tax_expenditure") == 3 * MONTHLY_REDUCTION_FEN
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_invalidating_the_report_reverses_its_incentive_in_one_transaction(
    registry: Store,
) -> None:
    report, return_id = file_worked_quarter(registry)

    invalidate(registry, report)

    (incentive,) = incentives.list_incentives(
        registry, regulator(registry), "E01", None, None, 10
    ).items
    assert incentive.reversal is not None
    assert incentive.reversal.reason is ReversalReason.REPORT_INVALIDATED
    assert incentive.reversal.report_id == report
    assert balance(registry, "E01:tax_incentives") == 0
    assert balance(registry, "HEBEI:tax_expenditure") == 0
    assert tax.get_return(registry, regulator(registry), return_id).void
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_no_incentive_can_be_booked_again_on_a_voided_basis(registry: Store) -> None:
    report, return_id = file_worked_quarter(registry)
    invalidate(registry, report)

    with pytest.raises(IncentiveBasisVoid):
        incentives.book_incentive(registry, regulator(registry), f"return-{return_id}", "again", 1)


def test_a_voided_return_is_filed_again_from_the_corrected_report(registry: Store) -> None:
    report, first = file_worked_quarter(registry)
    invalidate(registry, report)
    months = Q2.months()
    corrected = [x for m in months for x in worked_example(m, exceedances=1)]
    verified_report(registry, "E01", "2026Q2", corrected, version=2)

    second = tax.file_return(registry, filer(registry), "E01", Q2).record

    assert (second.version, second.supersedes) == (2, first)
    assert second.report_ids == ("E01-2026Q2-v2",)
    assert second.computed.total_reduction == 0
    assert tax.get_return(registry, regulator(registry), first).void
    assert balance(registry, "E01:tax_incentives") == 0


def test_the_service_refuses_an_incentive_above_its_basis(registry: Store) -> None:
    _, return_id = file_worked_quarter(registry)

    with pytest.raises(IncentiveExceedsBasis) as refused:
        incentives.book_incentive(registry, regulator(registry), f"return-{return_id}", "more", 1)
    detail = refused.value.detail
    assert "supports 74042.82 CNY; 74042.82 CNY is booked already, 0.01 CNY more" in detail


REFUSED = "exceeds what its verified basis supports|amount_within_basis|FOREIGN KEY|foreign key"


def test_the_database_refuses_an_incentive_above_its_basis_on_direct_insert(
    registry: Store,
) -> None:
    _, return_id = file_worked_quarter(registry)
    cap = 3 * MONTHLY_REDUCTION_FEN
    fresh = {"id": "manual", "kind": "equipment_credit", "party_code": "E01", "cap_fen": 100}
    row = {
        "basis_id": f"return-{return_id}",
        "basis_fen": cap,
        "kind": IncentiveKind.ARTICLE_13.value,
        "party_code": "E01",
        "entry_id": "none",
        "booked_at": datetime.now(UTC),
    }
    attempts = [
        {**row, "id": "over-sum", "amount_fen": 1},  # the cap is fully booked already
        {**row, "id": "over-row", "amount_fen": cap + 1},  # above the cap on its own
        {**row, "id": "fake-cap", "basis_fen": cap + 1, "amount_fen": cap + 1},  # not the cap
        {**row, "id": "fresh-over", "basis_id": "manual", "basis_fen": 100, "amount_fen": 101},
    ]
    with registry.engine.connect() as connection:
        with connection.begin():
            connection.execute(
                insert(t.incentive_bases).values(created_at=datetime.now(UTC), **fresh)
            )
        for attempt in attempts:
            with pytest.raises(DBAPIError, match=REFUSED), connection.begin():
                connection.execute(insert(t.incentives).values(**attempt))
        with connection.begin():  # within the fresh basis: accepted, so the refusals are real
            connection.execute(
                insert(t.incentives).values(
                    **{**row, "id": "ok", "basis_id": "manual", "basis_fen": 100, "amount_fen": 60}
                )
            )
        with pytest.raises(DBAPIError, match=REFUSED), connection.begin():
            connection.execute(
                insert(t.incentives).values(
                    **{**row, "id": "ok2", "basis_id": "manual", "basis_fen": 100},
                    amount_fen=41,
                )
            )


def test_the_database_refuses_to_update_or_delete_an_incentive(registry: Store) -> None:
    file_worked_quarter(registry)
    with registry.engine.connect() as connection:
        for statement in ("UPDATE incentives SET amount_fen = 1", "DELETE FROM incentives"):
            with pytest.raises(DBAPIError, match="immutable"), connection.begin():
                connection.execute(text(statement))


def test_the_equipment_credit_is_ten_percent_rounded_down(registry: Store) -> None:
    credit = incentives.grant_equipment_credit(
        registry,
        regulator(registry),
        incentives.EquipmentInvestment("DESOX-1", "E01", 123_456_789, date(2024, 3, 1)),
    ).record  # type: ignore[union-attr]  # four-eyes is off in these tests

    assert credit.amount_fen == 12_345_678
    assert credit.kind is IncentiveKind.EQUIPMENT_CREDIT
    assert balance(registry, "E01:equipment_credit") == 12_345_678


def test_a_retried_grant_answers_the_credit_it_granted(registry: Store) -> None:
    first = incentives.grant_equipment_credit(registry, regulator(registry), DESOX)

    again = incentives.grant_equipment_credit(registry, regulator(registry), DESOX)

    assert (first.replayed, again.replayed, again.record) == (False, True, first.record)  # type: ignore[union-attr]
    assert balance(registry, "E01:equipment_credit") == 10_000_000
    for other in (
        replace(DESOX, investment_fen=100_000_009),  # the same credit, but not the same request
        replace(DESOX, description="another machine"),
        replace(DESOX, party="E02"),
    ):
        with pytest.raises(RecordExists):
            incentives.grant_equipment_credit(registry, regulator(registry), other)
    assert balance(registry, "E01:equipment_credit") == 10_000_000


def test_a_retried_booking_answers_the_incentive_it_booked(registry: Store) -> None:
    incentives.grant_equipment_credit(registry, regulator(registry), DESOX)
    incentives.claw_back(registry, regulator(registry), "DESOX-1", date(2025, 1, 1))
    basis = "equipment-DESOX-1"
    first = incentives.book_incentive(registry, regulator(registry), basis, "again", 500)

    again = incentives.book_incentive(registry, regulator(registry), basis, "again", 500)

    assert (first.replayed, again.replayed, again.record) == (False, True, first.record)  # type: ignore[union-attr]
    with pytest.raises(RecordExists):
        incentives.book_incentive(registry, regulator(registry), basis, "again", 501)
    assert balance(registry, "E01:equipment_credit") == 500


def test_a_transfer_within_five_years_claws_the_credit_back(registry: Store) -> None:
    incentives.grant_equipment_credit(registry, regulator(registry), DESOX)

    made = incentives.claw_back(registry, regulator(registry), "DESOX-1", date(2029, 2, 28))

    (clawed,) = made.record
    assert clawed.reversal is not None and not made.replayed
    assert clawed.reversal.reason is ReversalReason.CLAWBACK
    assert balance(registry, "E01:equipment_credit") == 0
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_a_retried_clawback_answers_what_it_clawed_back_and_another_is_refused(
    registry: Store,
) -> None:
    """A clawback retried (its answer lost) gets the credits it reversed, once; another
    transfer date or detail finds nothing left to claw back."""
    incentives.grant_equipment_credit(registry, regulator(registry), DESOX)
    first = incentives.claw_back(registry, regulator(registry), "DESOX-1", date(2029, 2, 28))

    again = incentives.claw_back(registry, regulator(registry), "DESOX-1", date(2029, 2, 28))

    assert (again.replayed, again.record) == (True, first.record)
    assert balance(registry, "E01:equipment_credit") == 0  # reversed once
    for day, detail in ((date(2029, 2, 27), ""), (date(2029, 2, 28), "leased to E02")):
        with pytest.raises(IncentiveAlreadyReversed):
            incentives.claw_back(registry, regulator(registry), "DESOX-1", day, detail)


def test_a_transfer_after_five_years_keeps_the_credit(registry: Store) -> None:
    incentives.grant_equipment_credit(registry, regulator(registry), DESOX)

    with pytest.raises(ClawbackNotDue):
        incentives.claw_back(registry, regulator(registry), "DESOX-1", date(2029, 3, 1))


def test_unused_credit_carries_forward_five_years_then_lapses(registry: Store) -> None:
    incentives.grant_equipment_credit(registry, regulator(registry), DESOX)  # 10,000,000 fen

    schedule = incentives.credit_schedule(
        registry,
        filer(registry),
        "E01",
        {2024: 2_000_000, 2025: 0, 2029: 3_000_000, 2030: 9_000_000},
    )

    assert [(y.year, y.used_fen, y.lapsed_fen, y.left_fen) for y in schedule] == [
        (2024, 2_000_000, 0, 8_000_000),
        (2025, 0, 0, 8_000_000),
        (2029, 3_000_000, 0, 5_000_000),
        (2030, 0, 5_000_000, 0),
    ]


def test_an_enterprise_sees_only_its_own_incentives(registry: Store) -> None:
    file_worked_quarter(registry)
    other = filer(registry, "E02")
    (incentive,) = incentives.list_incentives(registry, filer(registry), None, None, None, 10).items

    assert incentives.list_incentives(registry, other, None, None, None, 10).items == []
    assert incentives.list_incentives(registry, other, "E01", None, None, 10).items == []
    for incentive_id in (incentive.id, "no-such-incentive"):  # out of scope, and unknown: alike
        with pytest.raises(IncentiveNotFound) as refused:
            incentives.get_incentive(registry, other, incentive_id)
        assert refused.value.detail == f"incentive {incentive_id!r} not found"
    with pytest.raises(PartyNotFound):
        incentives.credit_schedule(registry, other, "E01", {2026: 0})
