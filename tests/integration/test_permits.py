"""Permits and who states what (rules.md §7.4), through the services on both databases: the
standard of a report line is the permit's for its month, a permit that lowers tax needs a
second regulator, CEMS data govern an enterprise's own figures, the regulator's line replaces
the enterprise's, and an existing database gets permits from its outlets' standards."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ledger.domain.access import FOUR_EYES_DEFAULT, Forbidden, Pending, RequestState
from ledger.domain.errors import InvalidField, RecordExists
from ledger.domain.pages import Created
from ledger.domain.permits import Permit, relaxations
from ledger.domain.reports import (
    CemsLinesRequired,
    LineStatesStandard,
    Method,
    Period,
    ReportLine,
)
from ledger.domain.tax_tables import Pollutant
from ledger.persistence import migrate
from ledger.persistence.store import Store
from ledger.services import approvals, monitoring, permits, reports
from tests.factories import actor
from tests.integration.monitoring_support import (
    MARCH,
    build_outlets,
    city_authority,
    clerk,
    full_month,
    import_lines,
    regulator,
    set_permit,
    verifier,
)

FEBRUARY = date(2025, 2, 1)
SO2 = Pollutant.SO2


@pytest.fixture
def outlets(store: Store) -> Store:
    build_outlets(store)  # E1 SINTER-1: SO2 35 at 16 % O2, from 2024-01
    return store


def agency(month: date = MARCH, mass: str = "1000", mean: str = "20", **more: object) -> ReportLine:
    """An agency's SO2 line for E1's SINTER-1."""
    line = ReportLine(
        month, "SINTER-1", SO2, "SO2", Method.AGENCY, Decimal(mass), Fraction(Decimal(mean))
    )
    return replace(line, **more)  # type: ignore[arg-type]


def draft(
    store: Store, *lines: ReportLine, by: str = "E1", monitoring_too: bool = False
) -> tuple[ReportLine, ...]:
    who = regulator(store) if by == "regulator" else clerk(store)
    period = Period.parse(f"{lines[0].month:%Y-%m}" if lines else "2025-03")
    content = reports.Content(from_monitoring=monitoring_too, lines=lines)
    return reports.draft_report(store, who, "E1", period, content).record.lines


# -- the standard is the permit's --------------------------------------------------------------


def test_a_line_stating_its_own_standard_is_refused(outlets: Store) -> None:
    # The attempt: standard 1000 for an outlet whose SO2 standard is 35 earned 0.50.
    with pytest.raises(LineStatesStandard) as caught:
        draft(outlets, agency(standard_mg=Decimal(1000)))
    assert caught.value.field == "lines[0].standard_mg"


def test_a_line_gets_the_standard_of_the_permit_in_force_for_its_month(outlets: Store) -> None:
    (line,) = draft(outlets, agency(mean="20"))
    assert (line.standard_mg, line.reference_o2) == (Decimal(35), Decimal(16))
    assert line.facts().ratio == Fraction(20, 35)  # 0.571: a 0.75 factor, never 0.50


def test_a_later_permit_governs_its_months_and_only_those(outlets: Store) -> None:
    set_permit(outlets, "E1", "SINTER-1", {"SO2": "30"}, o2="16", since=MARCH)
    (february,) = draft(outlets, agency(FEBRUARY))
    (march,) = draft(outlets, agency(MARCH))
    assert (february.standard_mg, march.standard_mg) == (Decimal(35), Decimal(30))


def test_a_new_permit_re_aggregates_the_stored_months_it_governs(outlets: Store) -> None:
    import_lines(outlets, full_month("32"))  # 32 mg/Nm³ at the reference O2: under 35
    before = monitoring.list_months(outlets, regulator(outlets), monthly(), None, 10).items
    assert (before[0].aggregate.standard.limit_mg_nm3, before[0].aggregate.exceedances) == (  # type: ignore[union-attr]
        Decimal(35),
        0,
    )
    set_permit(outlets, "E1", "SINTER-1", {"SO2": "30"}, o2="16", since=MARCH)
    after = monitoring.list_months(outlets, regulator(outlets), monthly(), None, 10).items
    assert after[0].aggregate.standard is not None
    assert (after[0].aggregate.standard.limit_mg_nm3, after[0].aggregate.exceedances) == (
        Decimal(30),
        744,
    )


def monthly() -> monitoring.MonthFilter:
    return monitoring.MonthFilter(MARCH, MARCH, party="E1")


# -- who sets a permit, and four eyes ------------------------------------------------------------


def test_only_a_regulator_sets_a_permit(outlets: Store) -> None:
    permit = Permit("E1", "SINTER-1", MARCH, {"SO2": Decimal(1000)})
    for who in (clerk(outlets), city_authority(outlets, "Tangshan")):
        with pytest.raises(Forbidden):
            permits.set_permit(outlets, who, permit)
    assert [
        p.effective_from for p in permits.list_permits(outlets, clerk(outlets), "E1", "SINTER-1")
    ] == [date(2024, 1, 1)]


def test_a_permit_that_lowers_tax_waits_for_a_second_regulator(outlets: Store) -> None:
    outlets.four_eyes = FOUR_EYES_DEFAULT
    first, second = regulator(outlets), actor(outlets, principal="reg-2")
    raised = Permit("E1", "SINTER-1", MARCH, {"SO2": Decimal(50)}, Decimal(16))
    asked = permits.set_permit(outlets, first, raised)
    assert isinstance(asked, Pending)
    (line,) = draft(outlets, agency(MARCH))
    assert line.standard_mg == Decimal(35)  # not in force until approved

    decided = approvals.approve(outlets, second, asked.request.id)

    assert decided.state is RequestState.APPLIED
    stored = permits.list_permits(outlets, first, "E1", "SINTER-1")
    assert [(p.effective_from, p.standards, p.set_by) for p in stored][-1] == (
        MARCH,
        {"SO2": Decimal(50)},
        "reg-1",
    )


def test_a_permit_that_raises_tax_needs_no_second_regulator(outlets: Store) -> None:
    outlets.four_eyes = FOUR_EYES_DEFAULT
    tighter = Permit(
        "E1",
        "SINTER-1",
        MARCH,
        {"SO2": Decimal(30), "NOx": Decimal(50), "PM": Decimal(10)},
        Decimal(16),
        cems_required=True,
    )
    made = permits.set_permit(outlets, regulator(outlets), tighter)
    assert isinstance(made, Created) and not made.replayed


def test_removing_a_standard_waits_for_a_second_regulator(outlets: Store) -> None:
    # NOx at 60 mg/Nm³ is above its standard of 50 in every hour of March, and those
    # exceedances void the outlet's other Article 13 reductions. Without a NOx standard no NOx
    # hour would be judged: one regulator alone must not be able to drop it.
    outlets.four_eyes = FOUR_EYES_DEFAULT
    import_lines(outlets, full_month("60", pollutant="NOx"))
    without_nox = Permit(
        "E1", "SINTER-1", MARCH, {"SO2": Decimal(35), "PM": Decimal(10)}, Decimal(16)
    )

    asked = permits.set_permit(outlets, regulator(outlets), without_nox)

    assert isinstance(asked, Pending)
    nox = monitoring.MonthFilter(MARCH, MARCH, party="E1", pollutant="NOx")
    (march,) = monitoring.list_months(outlets, regulator(outlets), nox, None, 10).items
    assert march.aggregate.exceedances == 744  # judged on the permit in force: 50


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"standards": {"SO2": Decimal(36)}}, "standard of SO2 raised to 36"),
        ({"standards": {"SO2": Decimal(35), "HCl": Decimal(10)}}, "standard of HCl added"),
        ({"reference_o2": Decimal(18)}, "reference O2 changed"),
        (
            {"removal_efficiencies": {"SO2": Decimal("0.9")}},
            "removal efficiency of SO2 lowered or removed",
        ),
        ({"removal_efficiencies": {}}, "removal efficiency of SO2 lowered or removed"),
        ({"cems_required": False}, "CEMS obligation lifted"),
        ({"particulate": Pollutant.GENERAL_DUST}, "PM taxed as general dust"),
        ({"standards": {}}, "standard of SO2 removed"),
    ],
)
def test_every_change_that_can_lower_tax_is_named(change: dict[str, object], reason: str) -> None:
    before = Permit(
        "E1", "X", FEBRUARY, {"SO2": Decimal(35)}, Decimal(16), {"SO2": Decimal("0.95")}, True
    )
    after = replace(before, effective_from=MARCH, **change)  # type: ignore[arg-type]
    assert relaxations(before, after) == (reason,)
    assert relaxations(before, replace(before, effective_from=MARCH)) == ()


def test_a_permit_is_stated_once_per_month_and_retried_safely(outlets: Store) -> None:
    permit = Permit("E1", "SINTER-1", MARCH, {"SO2": Decimal(30)}, Decimal(16))
    made = permits.set_permit(outlets, regulator(outlets), permit)
    again = permits.set_permit(outlets, regulator(outlets), permit)
    assert isinstance(again, Created) and again.replayed and again.record == made.record  # type: ignore[union-attr]
    with pytest.raises(RecordExists):
        permits.set_permit(outlets, regulator(outlets), replace(permit, reference="other"))


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"effective_from": date(2025, 3, 2)}, "effective_from"),
        ({"removal_efficiencies": {"SO2": Decimal(1)}}, "removal_efficiencies.SO2"),
        ({"standards": {"SO2": Decimal(0)}}, "standards.SO2"),
        ({"standards": {"SO2": Decimal(10**6)}}, "standards.SO2"),
        ({"reference_o2": Decimal(21)}, "reference_o2"),
    ],
)
def test_an_impossible_permit_is_refused(fields: dict[str, object], where: str) -> None:
    with pytest.raises(InvalidField) as caught:
        Permit("E1", "SINTER-1", **{"effective_from": MARCH, **fields})  # type: ignore[arg-type]
    assert caught.value.field == where


# -- CEMS data govern; the regulator's line replaces the enterprise's ----------------------------


def test_an_enterprise_cannot_replace_its_cems_lines_with_coefficient_lines(outlets: Store) -> None:
    # The attempt: CEMS data stored, then 1 kg "coefficient" lines instead of them.
    import_lines(outlets, full_month("20"))
    one_kg = agency(mass="1", method=Method.COEFFICIENT)
    for monitoring_too in (False, True):  # instead of the CEMS line, or beside it
        with pytest.raises(CemsLinesRequired):
            draft(outlets, one_kg, monitoring_too=monitoring_too)


def test_where_the_permit_requires_cems_an_enterprise_gives_no_other_line(outlets: Store) -> None:
    set_permit(outlets, "E1", "SINTER-1", {"SO2": "35"}, o2="16", since=MARCH, cems_required=True)
    with pytest.raises(CemsLinesRequired) as caught:
        draft(outlets, agency(method=Method.ESTIMATE))
    assert caught.value.field == "lines[0].method"


def test_a_regulators_line_replaces_the_cems_line(outlets: Store) -> None:
    import_lines(outlets, full_month("20"))
    lines = draft(outlets, agency(mass="5000", mean="34"), by="regulator", monitoring_too=True)
    so2 = [line for line in lines if line.pollutant is SO2]
    assert [(x.method, x.mass_kg, x.standard_mg) for x in so2] == [
        (Method.AGENCY, Decimal(5000), Decimal(35))
    ]


def test_the_regulators_line_governs_every_later_version_the_enterprise_makes(
    outlets: Store,
) -> None:
    """The regulator corrects the enterprise's verified report with its own line and submits
    that version itself; the enterprise's next correction, from monitoring and with its own
    figure for the same month, still carries the regulator's line."""
    import_lines(outlets, full_month("20"))
    first = reports.draft_report(
        outlets, clerk(outlets), "E1", Period.parse("2025-03"), reports.Content()
    ).record.report.id
    reports.submit_report(outlets, clerk(outlets), first)
    reports.verify_report(outlets, verifier(outlets), first)
    ruled = agency(mass="5000", mean="34")
    second = reports.correct_report(
        outlets, regulator(outlets), first, reports.Content(lines=(ruled,))
    ).record.report.id
    with pytest.raises(Forbidden):  # the enterprise's draft is the enterprise's to submit
        reports.submit_report(outlets, regulator(outlets), first)
    reports.submit_report(outlets, regulator(outlets), second)
    reports.verify_report(outlets, verifier(outlets), second)

    third = reports.correct_report(outlets, clerk(outlets), second, reports.Content()).record

    so2 = [line for line in third.lines if line.pollutant is SO2]
    assert [(x.method, x.mass_kg, x.standard_mg) for x in so2] == [
        (Method.AGENCY, Decimal(5000), Decimal(35))
    ]


# -- an existing database ------------------------------------------------------------------------


def test_the_migration_gives_each_outlet_a_permit_from_its_standards(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0022")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO parties (code, kind, name, credit_code, city, county, industry, "
                "created_at) VALUES ('E1', 'enterprise', 'E1', '', 'Tangshan', '', '', "
                "'2025-01-01 00:00:00.000000')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO outlets (party_code, outlet_code, standards, reference_o2) "
                "VALUES ('E1', 'SINTER-1', :standards, '16')"
            ),
            {"standards": json.dumps({"SO2": "35", "NOx": "50"})},
        )
    engine.dispose()

    migrate.upgrade(url)

    store = Store(create_engine(url))
    (permit,) = permits.list_permits(store, regulator(store), "E1", "SINTER-1")
    assert (permit.effective_from, permit.standards, permit.reference_o2) == (
        date(2000, 1, 1),
        {"SO2": Decimal(35), "NOx": Decimal(50)},
        Decimal(16),
    )
    assert not permit.cems_required
    store.engine.dispose()
