"""Verified reductions (baseline − actual) release surplus rights through the registry, and
verified reports give each enterprise its rights obligations."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from ledger.domain.access import Actor, Role
from ledger.domain.errors import RecordExists, StorageConflict
from ledger.domain.incentives import (
    BaselineKind,
    ReductionBaselineUnknown,
    ReductionExists,
    ReductionNotVerifiable,
    Release,
    ReversalReason,
    months_before,
)
from ledger.domain.monitoring import MonthlyAggregate
from ledger.domain.penalty_basis import PenaltyBasisEvent, PenaltyReason
from ledger.domain.registry import Entitlement, Outlet
from ledger.domain.reports import Method, ReportNotFound
from ledger.persistence.store import Store
from ledger.services import parties, penalty_basis, queries, reductions, reports, rights
from tests.factories import actor
from tests.integration.tax_support import (
    P,
    build_tax_registry,
    filer,
    line,
    regulator,
    verified_report,
)

D = Decimal
AGENCY = Method.AGENCY


def verifier(store: Store) -> Actor:
    return actor(store, Role.VERIFIER, principal="verifier-2")


@pytest.fixture
def registry(store: Store) -> Store:
    build_tax_registry(store)
    entitlement = Entitlement("E01-SO2", "E01", "SO2", 100_000, 2026, 2030)
    rights.confirm_entitlement(store, regulator(store), entitlement)
    return store


def so2_year(store: Store, *, exceedances: int = 0) -> str:
    """A verified 2026 report: 20,000 kg of SO2 in each of two months (40 t)."""
    months = (date(2026, 1, 1), date(2026, 2, 1))
    return verified_report(
        store,
        "E01",
        "2026",
        [
            line(m, P.SO2, "20", "35", mass=D(20_000), exceedances=exceedances if i else 0)
            for i, m in enumerate(months)
        ],
    )


def request(
    report: str, release: Release = Release.RESERVE, reduction_id: str = "R1"
) -> reductions.ReductionRequest:
    # The baseline is derived: the 100 t entitlement of 2026 (no CEMS history); 40 t actual.
    return reductions.ReductionRequest(
        id=reduction_id, report_id=report, pollutant="SO2", release=release
    )


def holdings(store: Store, account: str, instrument: str = "SO2-2027") -> int:
    with store(read_only=True) as uow:
        found = uow.accounts.get_many([account])[account]
        balance = uow.journal.balance_of(found.id, instrument)
        return 0 if balance is None else balance.posted


def test_a_verified_reduction_reclaims_the_surplus_into_the_reserve(registry: Store) -> None:
    report = so2_year(registry)

    record = reductions.verify_reduction(registry, regulator(registry), request(report)).record

    assert record.claim.baseline_kind is BaselineKind.PRIOR_ENTITLEMENT
    assert (record.claim.baseline_kg, record.claim.baseline_hours) == (D(100_000), 8_760)
    assert (record.reduction_kg, record.released_units) == (60_000, 60_000)
    assert record.entry_id == "reclaim-reduction-R1"
    assert holdings(registry, "E01:holdings") == 100_000 - 60_000
    assert holdings(registry, "HEBEI:reserve") == 60_000
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_a_tradable_release_leaves_the_surplus_in_the_holdings(registry: Store) -> None:
    report = so2_year(registry)

    asked = request(report, Release.TRADABLE)
    record = reductions.verify_reduction(registry, regulator(registry), asked).record

    assert (record.released_units, record.entry_id) == (60_000, None)
    assert holdings(registry, "E01:holdings") == 100_000


def test_a_reduction_resting_on_an_hourly_exceedance_is_not_verifiable(registry: Store) -> None:
    report = so2_year(registry, exceedances=2)

    with pytest.raises(ReductionNotVerifiable):
        reductions.verify_reduction(registry, regulator(registry), request(report))
    assert reductions.list_reductions(registry, regulator(registry), None, None, 10).items == []


def test_a_verified_report_gives_the_rights_obligation_of_its_year(registry: Store) -> None:
    report = so2_year(registry)

    (obligation,) = reductions.rights_obligations(registry, filer(registry), report)

    assert (obligation.pollutant, obligation.instrument) == ("SO2", "SO2-2026")
    assert (obligation.verified_units, obligation.held_units) == (40_000, 100_000)
    assert obligation.shortfall_units == 0


def test_a_retried_verification_answers_the_reduction_it_verified(registry: Store) -> None:
    report = so2_year(registry)
    first = reductions.verify_reduction(registry, regulator(registry), request(report))

    again = reductions.verify_reduction(registry, regulator(registry), request(report))

    assert (first.replayed, again.replayed, again.record) == (False, True, first.record)
    for other in (
        replace(request(report), retrofit_month=date(2025, 6, 1)),
        replace(request(report), vintage=2028),  # the same claim, reclaimed elsewhere
    ):
        with pytest.raises(RecordExists):
            reductions.verify_reduction(registry, regulator(registry), other)
    assert holdings(registry, "HEBEI:reserve") == 60_000
    assert holdings(registry, "HEBEI:reserve", "SO2-2028") == 0
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_another_enterprises_report_and_reductions_do_not_exist_for_it(registry: Store) -> None:
    report = so2_year(registry)
    reductions.verify_reduction(registry, regulator(registry), request(report))
    other = filer(registry, "E02")

    for report_id in (report, "E01-2026-v9"):  # out of scope, and unknown: alike
        with pytest.raises(ReportNotFound) as refused:
            reductions.rights_obligations(registry, other, report_id)
        assert refused.value.detail == f"report {report_id!r} not found"
    assert reductions.list_reductions(registry, other, "E01", None, 10).items == []
    assert len(reductions.list_reductions(registry, filer(registry), None, None, 10).items) == 1


# -- rules §7.8: unique, derived baseline, reversed with the report ---------------------------


def cems_year(
    store: Store, kg_per_month: str, *, invalid: date | None = None, add_outlet: bool = True
) -> None:
    """Monthly SO2 aggregates of E01's SINTER-1 for 2025 (valid unless `invalid`)."""
    if add_outlet:
        parties.add_outlet(store, regulator(store), Outlet("E01", "SINTER-1"))
    with store() as uow:
        (outlet,) = uow.monitoring.outlets("E01")
        for month in months_before(date(2026, 1, 1)):
            aggregate = MonthlyAggregate(
                outlet="SINTER-1",
                pollutant="SO2",
                month=month,
                standard=None,
                hours_received=720,
                valid_hours=720,
                valid_days=30,
                valid_days_required=25,
                month_valid=month != invalid,
                mass_kg=D(kg_per_month),
                mean_measured=None,
                mean_on_standard_basis=None,
                exceedances=0,
                first_exceedance=None,
                impossible_hours=0,
                over_range_hours=0,
            )
            uow.monitoring.put_month(outlet.seq, aggregate, uow.now())
        uow.commit()


def test_the_baseline_is_the_lower_of_entitlement_and_pre_retrofit_cems(registry: Store) -> None:
    cems_year(registry, "5000")  # 60 t in 2025 < the 100 t entitlement
    report = so2_year(registry)

    record = reductions.verify_reduction(registry, regulator(registry), request(report)).record

    assert record.claim.baseline_kind is BaselineKind.CEMS_BASELINE
    assert (record.claim.baseline_kg, record.claim.baseline_hours) == (D(60_000), 8_760)
    assert record.reduction_kg == 60_000 - 40_000


def test_a_cems_year_with_an_invalid_month_refuses_rather_than_takes_the_entitlement(
    registry: Store,
) -> None:
    # Before, the invalid month dropped the (lower) CEMS baseline: the 100 t entitlement made
    # the reduction 60 t instead of 20 t. §3: a reduction is computed only from valid months.
    cems_year(registry, "5000", invalid=date(2025, 7, 1))
    report = so2_year(registry)

    with pytest.raises(ReductionBaselineUnknown) as caught:
        reductions.verify_reduction(registry, regulator(registry), request(report))
    assert caught.value.field == "retrofit_month"
    assert reductions.list_reductions(registry, regulator(registry), None, None, 10).items == []


def test_a_retrofit_month_typed_in_cannot_switch_the_baseline_to_the_entitlement(
    registry: Store,
) -> None:
    cems_year(registry, "5000")  # 2025 complete and valid: 60 t < the 100 t entitlement
    report = so2_year(registry)

    # The window 2024-07..2025-06 has 6 months without CEMS data: refused, not 60 t instead of 20.
    typed = replace(request(report), retrofit_month=date(2025, 7, 1))
    with pytest.raises(ReductionBaselineUnknown) as caught:
        reductions.verify_reduction(registry, regulator(registry), typed)
    assert caught.value.field == "retrofit_month"

    record = reductions.verify_reduction(registry, regulator(registry), request(report)).record
    assert (record.claim.baseline_kind, record.reduction_kg) == (BaselineKind.CEMS_BASELINE, 20_000)


def test_without_cems_data_before_the_report_the_entitlement_is_the_baseline(
    registry: Store,
) -> None:
    report = so2_year(registry)
    typed = replace(request(report), retrofit_month=date(2025, 7, 1))

    record = reductions.verify_reduction(registry, regulator(registry), typed).record

    assert (record.claim.baseline_kind, record.reduction_kg) == (
        BaselineKind.PRIOR_ENTITLEMENT,
        60_000,
    )


def test_without_entitlement_or_cems_history_there_is_no_baseline(registry: Store) -> None:
    report = verified_report(
        registry, "E02", "2026", [line(date(2026, 1, 1), P.SO2, "20", "35", mass=D(10))]
    )

    with pytest.raises(ReductionBaselineUnknown):
        reductions.verify_reduction(registry, regulator(registry), request(report))


def test_a_report_has_one_reduction_per_pollutant(registry: Store) -> None:
    report = so2_year(registry)
    reductions.verify_reduction(registry, regulator(registry), request(report))

    with pytest.raises(ReductionExists):
        second = request(report, Release.TRADABLE, reduction_id="R2")
        reductions.verify_reduction(registry, regulator(registry), second)
    assert holdings(registry, "HEBEI:reserve") == 60_000


def test_the_database_refuses_a_second_reduction_of_a_report(registry: Store) -> None:
    report = so2_year(registry)
    first = reductions.verify_reduction(registry, regulator(registry), request(report)).record

    with pytest.raises(StorageConflict), registry() as uow:
        uow.tax.add_reduction(replace(first, id="R2", entry_id=None))
        uow.commit()


def test_invalidating_the_report_reverses_the_reduction_and_gives_back_the_reclaim(
    registry: Store,
) -> None:
    report = so2_year(registry)
    reductions.verify_reduction(registry, regulator(registry), request(report))

    view = reports.invalidate_report(registry, regulator(registry), report, "tampered CEMS")

    assert view.reversed_reductions == ("R1",)
    (record,) = reductions.list_reductions(registry, regulator(registry), "E01", None, 10).items
    assert record.reversal is not None
    assert record.reversal.reason is ReversalReason.REPORT_INVALIDATED
    assert (record.reversal.restored_units, record.reversal.unrestored_units) == (60_000, 0)
    assert record.reversal.entry_id == "reduction-R1-reversal"
    assert holdings(registry, "E01:holdings") == 100_000
    assert holdings(registry, "HEBEI:reserve") == 0
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_what_the_reserve_no_longer_holds_is_the_enterprises_to_cover(registry: Store) -> None:
    report = so2_year(registry)
    reductions.verify_reduction(registry, regulator(registry), request(report))
    cancelled = rights.ReserveOperation(
        "CANCEL-1", rights.ReserveAction.CANCELLATION, "HEBEI", "SO2", 10_000, 2027, 2027
    )
    rights.reserve_operation(registry, regulator(registry), cancelled)

    reports.invalidate_report(registry, regulator(registry), report, "tampered CEMS")

    (record,) = reductions.list_reductions(registry, regulator(registry), "E01", None, 10).items
    assert record.reversal is not None
    assert (record.reversal.restored_units, record.reversal.unrestored_units) == (50_000, 10_000)
    assert holdings(registry, "E01:holdings") == 100_000 - 10_000
    assert holdings(registry, "HEBEI:reserve") == 0


def test_a_verified_correction_reverses_the_reduction_and_the_new_version_gets_its_own(
    registry: Store,
) -> None:
    report = so2_year(registry)
    reductions.verify_reduction(registry, regulator(registry), request(report))
    correction = reports.Content(
        from_monitoring=False,
        lines=(
            replace(
                line(date(2026, 1, 1), P.SO2, "20", "35", mass=D(70_000)),
                method=AGENCY,
                standard_mg=None,  # the outlet's permit states it
            ),
        ),
    )
    parties.add_outlet(registry, regulator(registry), Outlet("E01", "SINTER-1"))
    draft = reports.correct_report(registry, filer(registry), report, correction).record.report
    reports.submit_report(registry, filer(registry), draft.id)

    verified = reports.verify_report(registry, verifier(registry), draft.id)

    assert verified.reversed_reductions == ("R1",)
    assert holdings(registry, "E01:holdings") == 100_000
    again = request(draft.id, reduction_id="R2")
    record = reductions.verify_reduction(registry, regulator(registry), again).record
    assert (record.report_id, record.reduction_kg) == (draft.id, 30_000)
    assert holdings(registry, "HEBEI:reserve") == 30_000
    assert queries.check_invariants(registry, regulator(registry)) == []


# -- penalty-basis events (rules §1.1: no reduction applies after tampering) -------------------


def tampered(store: Store, outlet: str = "SINTER-1", event_id: str = "EV-1") -> None:
    """A regulator's CEMS_TAMPERED event on E01's `outlet` for January 2026."""
    january = date(2026, 1, 1)
    event = PenaltyBasisEvent(
        event_id, "E01", outlet, PenaltyReason.CEMS_TAMPERED, january, january, "HB-2026-117"
    )
    penalty_basis.record_event(store, regulator(store), event)


@pytest.fixture
def outlets(registry: Store) -> Store:
    for outlet in ("SINTER-1", "SINTER-2"):
        parties.add_outlet(registry, regulator(registry), Outlet("E01", outlet))
    return registry


def test_a_reduction_on_a_report_a_penalty_event_touches_is_not_verifiable(
    outlets: Store,
) -> None:
    report = so2_year(outlets)
    tampered(outlets)

    with pytest.raises(ReductionNotVerifiable) as caught:
        reductions.verify_reduction(outlets, regulator(outlets), request(report))
    assert "1 penalty-basis event(s)" in str(caught.value)
    assert reductions.list_reductions(outlets, regulator(outlets), None, None, 10).items == []
    assert holdings(outlets, "E01:holdings") == 100_000


def test_an_event_on_an_outlet_the_report_does_not_cover_refuses_nothing(
    outlets: Store,
) -> None:
    report = so2_year(outlets)  # SINTER-1's lines only
    tampered(outlets, "SINTER-2")

    record = reductions.verify_reduction(outlets, regulator(outlets), request(report)).record
    assert record.reduction_kg == 60_000


def test_an_event_recorded_after_the_reduction_reverses_it_and_gives_back_the_reclaim(
    outlets: Store,
) -> None:
    report = so2_year(outlets)
    reductions.verify_reduction(outlets, regulator(outlets), request(report))
    assert holdings(outlets, "HEBEI:reserve") == 60_000

    tampered(outlets)
    tampered(outlets)  # a retry reverses nothing twice

    (record,) = reductions.list_reductions(outlets, regulator(outlets), "E01", None, 10).items
    assert record.reversal is not None
    assert record.reversal.reason is ReversalReason.REPORT_CORRECTED  # no code of its own yet
    assert "penalty-basis event EV-1" in record.reversal.detail
    assert (record.reversal.restored_units, record.reversal.unrestored_units) == (60_000, 0)
    assert holdings(outlets, "E01:holdings") == 100_000
    assert holdings(outlets, "HEBEI:reserve") == 0
    assert queries.check_invariants(outlets, regulator(outlets)) == []
