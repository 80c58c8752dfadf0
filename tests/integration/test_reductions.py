"""Verified reductions (baseline − actual) release surplus rights through the registry, and
verified reports give each enterprise its rights obligations."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from ledger.domain.errors import RecordExists
from ledger.domain.incentives import BaselineKind, ReductionNotVerifiable, Release
from ledger.domain.registry import Entitlement
from ledger.domain.reports import ReportNotFound
from ledger.persistence.store import Store
from ledger.services import queries, reductions, rights
from tests.integration.tax_support import (
    P,
    build_tax_registry,
    filer,
    line,
    regulator,
    verified_report,
)

D = Decimal


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


def request(report: str, release: Release = Release.RESERVE) -> reductions.ReductionRequest:
    # Baseline 100 t over 8,000 h; this year ran 6,000 h: 75 t on the same basis, 40 t actual.
    return reductions.ReductionRequest(
        id="R1",
        report_id=report,
        pollutant="SO2",
        baseline_kind=BaselineKind.PRIOR_ENTITLEMENT,
        baseline_kg=D(100_000),
        baseline_hours=8_000,
        actual_hours=6_000,
        release=release,
    )


def holdings(store: Store, account: str, instrument: str = "SO2-2027") -> int:
    with store(read_only=True) as uow:
        found = uow.accounts.get_many([account])[account]
        balance = uow.journal.balance_of(found.id, instrument)
        return 0 if balance is None else balance.posted


def test_a_verified_reduction_reclaims_the_surplus_into_the_reserve(registry: Store) -> None:
    report = so2_year(registry)

    record = reductions.verify_reduction(registry, regulator(registry), request(report)).record

    assert (record.reduction_kg, record.released_units) == (35_000, 35_000)
    assert record.entry_id == "reclaim-reduction-R1"
    assert holdings(registry, "E01:holdings") == 100_000 - 35_000
    assert holdings(registry, "HEBEI:reserve") == 35_000
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_a_tradable_release_leaves_the_surplus_in_the_holdings(registry: Store) -> None:
    report = so2_year(registry)

    asked = request(report, Release.TRADABLE)
    record = reductions.verify_reduction(registry, regulator(registry), asked).record

    assert (record.released_units, record.entry_id) == (35_000, None)
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
        replace(request(report), baseline_kg=D(90_000)),
        replace(request(report), vintage=2028),  # the same claim, reclaimed elsewhere
    ):
        with pytest.raises(RecordExists):
            reductions.verify_reduction(registry, regulator(registry), other)
    assert holdings(registry, "HEBEI:reserve") == 35_000
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
