"""Penalty-basis events (rules.md §7.3) through the services, on both databases: a regulator
records one with its evidence, the enterprise sees its own, and the tax of the months it touches
is computed (and filed) on the generated amount, without reduction, with nobody asking."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from ledger.domain.access import Forbidden, Role
from ledger.domain.errors import InvalidField, PartyNotFound, RecordExists
from ledger.domain.incentives import ReversalReason
from ledger.domain.penalty_basis import PenaltyBasisEvent, PenaltyReason, generated_mass
from ledger.domain.registry import Outlet
from ledger.domain.tax import Disqualification, MonthlyTax
from ledger.domain.tax_filing import FiledReturn, Quarter, to_fen
from ledger.domain.tax_tables import Pollutant
from ledger.persistence.store import Store
from ledger.services import incentives, parties, penalty_basis, queries, tax
from tests.factories import actor
from tests.integration.monitoring_support import set_permit
from tests.integration.tax_support import (
    build_tax_registry,
    filer,
    regulator,
    verified_report,
    worked_example,
)

APRIL, MAY, JUNE = date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)
Q2 = Quarter(2026, 2)
D = Decimal
P = Pollutant


@pytest.fixture
def taxed(store: Store) -> Store:
    """E01's SINTER-1 (SO2 35, NOx 50, PM 10 at 16 % O2; η SO2 0.95, NOx 0.80, PM 0.99), its
    2026Q2 verified: the worked example of rules §1.3 in each month."""
    build_tax_registry(store)
    parties.add_outlet(store, regulator(store), Outlet("E01", "SINTER-1"))
    standards = {"SO2": "35", "NOx": "50", "PM": "10"}
    removal = {"SO2": "0.95", "NOx": "0.80", "PM": "0.99"}
    set_permit(store, "E01", "SINTER-1", standards, o2="16", removal=removal)
    lines = [x for m in (APRIL, MAY, JUNE) for x in worked_example(m)]
    verified_report(store, "E01", "2026Q2", lines)
    return store


def event(event_id: str = "EV-1", month: date = APRIL, **more: object) -> PenaltyBasisEvent:
    made = PenaltyBasisEvent(
        event_id,
        "E01",
        "SINTER-1",
        PenaltyReason.CEMS_TAMPERED,
        month,
        month,
        "inspection report HB-2026-117: analyser span gas altered",
    )
    return replace(made, **more)  # type: ignore[arg-type]


def month_of(store: Store, month: date) -> MonthlyTax:
    computed = tax.compute_quarter(store, filer(store), "E01", Q2).computed
    return next(m for m in computed.months if m.month == month)


def test_an_event_taxes_its_months_on_the_generated_amount_without_reduction(
    taxed: Store,
) -> None:
    before = month_of(taxed, APRIL)
    assert before.total_reduction == D("24680.94")  # the worked example

    penalty_basis.record_event(taxed, regulator(taxed), event())

    april, may = month_of(taxed, APRIL), month_of(taxed, MAY)
    # discharged / (1 − η): 17,280 / 0.05, 34,560 / 0.20, 5,184 / 0.01
    masses = {line.pollutant: line.mass_kg for line in april.lines}
    assert masses == {P.SO2: D(345_600), P.NOX: D(172_800), P.SOOT: D(518_400)}
    assert all(Disqualification.PENALTY_EVENT in x.disqualifications for x in april.lines)
    assert (april.total_reduction, april.total_due) == (D("0.00"), april.total_before)
    assert may == month_of(taxed, MAY) and may.total_reduction == D("24680.94")  # untouched


def test_the_regulators_figure_stands_where_it_is_larger(taxed: Store) -> None:
    figure = event("EV-2", MAY, reason=PenaltyReason.ILLEGAL_DISCHARGE)
    penalty_basis.record_event(
        taxed, regulator(taxed), replace(figure, generated_kg={"SO2": D(400_000)})
    )
    may = month_of(taxed, MAY)
    assert may.line("SINTER-1", P.SO2).mass_kg == D(400_000)  # above 17,280 / 0.05
    assert may.line("SINTER-1", P.NOX).mass_kg == D(172_800)  # η for the others


def test_one_regulators_figure_never_taxes_less_than_the_permit_says(taxed: Store) -> None:
    # The attempt: 1 kg a month as the "generated" SO2 of an outlet that discharged 17,280 kg,
    # by one regulator, where lowering the permit's η would have taken a second one.
    low = event("EV-3", JUNE, generated_kg={"SO2": D(1), "NOx": D(1)})
    penalty_basis.record_event(taxed, regulator(taxed), low)

    june = month_of(taxed, JUNE)
    assert june.line("SINTER-1", P.SO2).mass_kg == D(345_600)  # 17,280 / (1 − 0.95)
    assert june.line("SINTER-1", P.NOX).mass_kg == D(172_800)  # 34,560 / (1 − 0.80)


def test_filing_applies_the_events_by_itself(taxed: Store) -> None:
    penalty_basis.record_event(taxed, regulator(taxed), event())
    filed = tax.file_return(taxed, filer(taxed), "E01", Q2).record
    april = filed.computed.months[0]
    assert april.line("SINTER-1", P.SO2).mass_kg == D(345_600)
    assert april.total_reduction == D("0.00")


# -- an event recorded after filing amends the filed return (rules §1.1, §7.3) ----------------


def posted(store: Store, account: str) -> int:
    with store(read_only=True) as uow:
        found = uow.accounts.get_many([account]).get(account)
        held = None if found is None else uow.journal.balance_of(found.id, "CNY")
        return 0 if held is None else held.posted


def latest(store: Store) -> FiledReturn:
    with store(read_only=True) as uow:
        found = uow.tax.latest_return("E01", 2026, 2)
    assert found is not None
    return found


def test_an_event_after_filing_amends_the_filed_return_at_once(taxed: Store) -> None:
    first = tax.file_return(taxed, filer(taxed), "E01", Q2).record
    assert first.computed.total_due == D("745985.37")

    penalty_basis.record_event(taxed, regulator(taxed), event())

    amended = latest(taxed)
    assert (amended.id, amended.supersedes) == ("E01-2026Q2-r2", first.id)
    assert amended.computed == tax.compute_quarter(taxed, filer(taxed), "E01", Q2).computed
    assert amended.computed.total_due == D("4258038.98")  # April on the generated amount
    assert tax.get_return(taxed, filer(taxed), first.id).void  # no longer in force
    # The books say what the amended return says: more tax owed, April's reduction gone.
    assert posted(taxed, "E01:env_tax_owed") == to_fen(amended.computed.total_due)
    assert posted(taxed, "E01:tax_incentives") == to_fen(amended.computed.total_reduction)
    old = incentives.get_incentive(taxed, regulator(taxed), f"a13-{first.id}")
    assert old.reversal is not None and "EV-1" in old.reversal.detail
    assert old.reversal.reason is ReversalReason.REPORT_CORRECTED  # the amended-return code
    again = tax.file_return(taxed, filer(taxed), "E01", Q2)  # no longer tax_return_exists
    assert (again.replayed, again.record.id) == (True, amended.id)
    assert queries.check_invariants(taxed, regulator(taxed)) == []


def test_recording_the_event_again_amends_nothing_twice(taxed: Store) -> None:
    tax.file_return(taxed, filer(taxed), "E01", Q2)
    penalty_basis.record_event(taxed, regulator(taxed), event())
    owed = posted(taxed, "E01:env_tax_owed")

    again = penalty_basis.record_event(taxed, regulator(taxed), event())

    assert again.replayed and latest(taxed).id == "E01-2026Q2-r2"
    assert posted(taxed, "E01:env_tax_owed") == owed
    penalty_basis.record_event(taxed, regulator(taxed), event("EV-2", MAY))  # another one
    assert latest(taxed).id == "E01-2026Q2-r3"
    assert posted(taxed, "E01:tax_incentives") == to_fen(latest(taxed).computed.total_reduction)


def test_an_event_outside_the_filed_quarters_amends_nothing(taxed: Store) -> None:
    tax.file_return(taxed, filer(taxed), "E01", Q2)
    penalty_basis.record_event(taxed, regulator(taxed), event(month=date(2026, 7, 1)))
    assert latest(taxed).id == "E01-2026Q2-r1"


def test_an_event_stored_before_this_rule_amends_the_return_when_filed_again(
    taxed: Store,
) -> None:
    first = tax.file_return(taxed, filer(taxed), "E01", Q2).record
    with taxed() as uow:  # stored as events were before they amended filed returns
        made = replace(event(), recorded_by="regulator-1", recorded_at=uow.now())
        uow.permits.add_event(made)
        uow.commit()

    refiled = tax.file_return(taxed, filer(taxed), "E01", Q2)

    assert not refiled.replayed and refiled.record.supersedes == first.id
    assert refiled.record.computed.total_due == D("4258038.98")
    assert posted(taxed, "E01:env_tax_owed") == to_fen(refiled.record.computed.total_due)


def test_the_enterprise_sees_its_events_and_no_one_elses(taxed: Store) -> None:
    penalty_basis.record_event(taxed, regulator(taxed), event())
    mine = penalty_basis.list_events(taxed, filer(taxed), "E01")
    assert [(e.id, e.recorded_by, e.evidence[:10]) for e in mine] == [
        ("EV-1", "regulator-1", "inspection")
    ]
    with pytest.raises(PartyNotFound):
        penalty_basis.list_events(taxed, filer(taxed, "E02"), "E01")


def test_only_a_regulator_records_an_event(taxed: Store) -> None:
    for who in (filer(taxed), actor(taxed, Role.CITY_AUTHORITY, "TANGSHAN")):
        with pytest.raises(Forbidden):
            penalty_basis.record_event(taxed, who, event())


def test_an_event_is_recorded_once_and_retried_safely(taxed: Store) -> None:
    first = penalty_basis.record_event(taxed, regulator(taxed), event())
    again = penalty_basis.record_event(taxed, regulator(taxed), event())
    assert again.replayed and again.record == first.record
    with pytest.raises(RecordExists):
        penalty_basis.record_event(taxed, regulator(taxed), event(last_month=MAY))


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"evidence": "  "}, "evidence"),
        ({"last_month": date(2026, 3, 1)}, "last_month"),
        ({"first_month": date(2026, 4, 2)}, "first_month"),
        ({"generated_kg": {"SO2": D(-1)}}, "generated_kg.SO2"),
    ],
)
def test_an_event_without_evidence_or_with_impossible_months_is_refused(
    fields: dict[str, object], where: str
) -> None:
    with pytest.raises(InvalidField) as caught:
        replace(event(), **fields)  # type: ignore[arg-type]
    assert caught.value.field == where


def test_the_generated_mass_is_never_below_the_exact_amount() -> None:
    assert generated_mass(D(1), D("0.97"), None) == D("33.334")  # 33.3333… up to the gram
    assert generated_mass(D(10), None, None) == D(10)  # no η, no figure: what was discharged
    assert generated_mass(D(10), D("0.5"), D(25)) == D(25)  # the regulator's larger figure
    assert generated_mass(D(10), D("0.5"), D(7)) == D(20)  # a smaller one lowers nothing
    assert generated_mass(D(10), None, D(7)) == D(10)  # nor below what was discharged
