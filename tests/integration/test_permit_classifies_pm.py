"""What an outlet's measured PM is taxed as (soot or general dust, rules.md §1.2) is its
permit's, set by a regulator (§7.4), through the services on both databases: CEMS PM lines take
the permit's classification, a PM line against it is refused, and classifying PM as general
dust (~45 % less tax) waits for a second regulator."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from ledger.domain.access import FOUR_EYES_DEFAULT, Pending
from ledger.domain.permits import Permit
from ledger.domain.reports import Method, ParticulateNotPermitted, Period, ReportLine
from ledger.domain.tax_tables import Pollutant
from ledger.persistence.store import Store
from ledger.services import approvals, permits, reports
from tests.factories import actor
from tests.integration.monitoring_support import (
    MARCH,
    build_outlets,
    clerk,
    full_month,
    import_lines,
    regulator,
)

PERIOD = Period.parse("2025-03")


@pytest.fixture
def outlets(store: Store) -> Store:
    build_outlets(store)  # E1 SINTER-1, PM standard 10, its permit from 2024-01 (soot)
    return store


def as_dust(store: Store, since: date = MARCH) -> Permit:
    (current,) = permits.list_permits(store, regulator(store), "E1", "SINTER-1")
    dust = replace(current.definition(), effective_from=since, particulate=Pollutant.GENERAL_DUST)
    made = permits.set_permit(store, regulator(store), dust)
    assert not isinstance(made, Pending)
    return made.record


def pm_of(lines: tuple[ReportLine, ...]) -> list[Pollutant]:
    return [line.pollutant for line in lines if line.measured_as == "PM"]


def test_cems_pm_is_taxed_as_the_permit_says(outlets: Store) -> None:
    import_lines(outlets, full_month("6", pollutant="PM"))
    as_dust(outlets)
    lines = reports.draft_report(outlets, clerk(outlets), "E1", PERIOD, reports.Content())
    assert pm_of(lines.record.lines) == [Pollutant.GENERAL_DUST]


def test_by_default_cems_pm_is_soot(outlets: Store) -> None:
    import_lines(outlets, full_month("6", pollutant="PM"))
    lines = reports.draft_report(outlets, clerk(outlets), "E1", PERIOD, reports.Content())
    assert pm_of(lines.record.lines) == [Pollutant.SOOT]
    (permit,) = permits.list_permits(outlets, clerk(outlets), "E1", "SINTER-1")
    assert permit.particulate is Pollutant.SOOT


def test_a_pm_line_against_the_permit_is_refused(outlets: Store) -> None:
    dust = ReportLine(
        MARCH, "SINTER-1", Pollutant.GENERAL_DUST, "PM", Method.AGENCY, Decimal(5184), Fraction(6)
    )
    for who in (clerk(outlets), regulator(outlets)):
        with pytest.raises(ParticulateNotPermitted) as caught:
            reports.draft_report(outlets, who, "E1", PERIOD, reports.Content(lines=(dust,)))
        assert caught.value.field == "lines[0].pollutant"
    as_dust(outlets)
    made = reports.draft_report(
        outlets, clerk(outlets), "E1", PERIOD, reports.Content(lines=(dust,))
    )
    assert pm_of(made.record.lines) == [Pollutant.GENERAL_DUST]


def test_classifying_pm_as_general_dust_waits_for_a_second_regulator(outlets: Store) -> None:
    outlets.four_eyes = FOUR_EYES_DEFAULT
    (current,) = permits.list_permits(outlets, regulator(outlets), "E1", "SINTER-1")
    dust = replace(current.definition(), effective_from=MARCH, particulate=Pollutant.GENERAL_DUST)
    asked = permits.set_permit(outlets, regulator(outlets), dust)
    assert isinstance(asked, Pending)
    assert permits.list_permits(outlets, clerk(outlets), "E1", "SINTER-1") == (current,)

    approvals.approve(outlets, actor(outlets, principal="reg-2"), asked.request.id)

    stored = permits.list_permits(outlets, clerk(outlets), "E1", "SINTER-1")
    assert [p.particulate for p in stored] == [Pollutant.SOOT, Pollutant.GENERAL_DUST]
