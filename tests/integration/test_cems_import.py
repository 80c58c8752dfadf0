"""CEMS import on both databases: all or nothing, every problem located, idempotent, and the
monthly aggregates recomputed from the stored hours."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from ledger.domain.access import Forbidden
from ledger.domain.cems import PROBLEMS_SHOWN_MAX, CemsImportRefused, StoredMonth
from ledger.persistence.store import Store
from ledger.services import monitoring
from tests.integration.monitoring_support import (
    MARCH,
    build_outlets,
    city_authority,
    clerk,
    count,
    full_month,
    import_lines,
    line,
    regulator,
    stamp,
)

MARCH_ONLY = monitoring.MonthFilter(MARCH, MARCH)


@pytest.fixture
def outlets(store: Store) -> Store:
    build_outlets(store)
    return store


def refused(store: Store, lines: list[str]) -> CemsImportRefused:
    with pytest.raises(CemsImportRefused) as caught:
        import_lines(store, lines)
    assert count(store, "cems_hours") == 0
    assert count(store, "cems_imports") == 0
    return caught.value


def located(error: CemsImportRefused) -> list[tuple[int, str]]:
    return [(p.line, p.code) for p in error.problems]


def march(store: Store) -> list[StoredMonth]:
    """March's aggregates, as the regulator sees them."""
    return monitoring.list_months(store, regulator(store), MARCH_ONLY, None, 100).items


def test_a_month_of_hours_is_stored_and_aggregated(outlets: Store) -> None:
    record = import_lines(outlets, full_month(c="20")).record
    assert (record.rows, record.inserted, record.months) == (744, 744, 1)
    (stored,) = march(outlets)
    month = stored.aggregate
    # 744 h × 20 mg/Nm³ × 1,000,000 Nm³/h × 1e-6 = 14,880 kg; O2 = reference: mean 20 exactly.
    assert month.mass_kg == Decimal(14880)
    assert month.mean_on_standard_basis == Fraction(20)
    assert (month.valid_hours, month.valid_days, month.month_valid) == (744, 31, True)
    assert month.exceedances == 0


def test_aggregates_follow_the_validity_rules_and_oxygen_correction(outlets: Store) -> None:
    lines = [
        line(stamp(1, 0), c="20", o2="16"),  # corrected 20
        line(stamp(1, 1), c="40", o2="11"),  # corrected 40 × 5/10 = 20
        line(stamp(1, 2), c="80", o2="18.5"),  # corrected 80 × 5/2.5 = 160: an exceedance
        line(stamp(1, 3), c="99", minutes="44"),  # too few minutes: not valid
        line(stamp(1, 4), c="99", flag="C"),  # calibration: not valid
    ]
    import_lines(outlets, lines)
    (stored,) = march(outlets)
    month = stored.aggregate
    # Valid: (20 + 40 + 80) × 1e6 × 1e-6 = 140 kg. The quarter's capture rate is 3 of 5 hours
    # (< 90 %): each non-valid hour is substituted by the maximum of the valid hours before
    # (80 mg/Nm³ × 1e6 Nm³/h = 80 kg), rules §7.1.
    assert month.mass_kg == Decimal(300)
    assert (month.substituted_hours, month.substitution) == (2, (("max_2160_valid_hours", 2),))
    # The mean counts each substituted hour at the month's highest reading (99; on the
    # standard's basis 160): (140 + 2 × 99) / 5 and (200 + 2 × 160) / 5.
    assert month.mean_measured == Fraction(338, 5)
    assert month.mean_on_standard_basis == Fraction(104)
    # Every reading is judged (§7.2): the valid 160 and both invalid 99s exceed 35.
    assert (month.exceedances, month.valid_hours, month.hours_received) == (3, 3, 5)
    assert len(month.exceedance_hours) == 3
    assert not month.month_valid


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (line(stamp(2, 0), outlet="E1,NOPE"), "unknown_outlet"),
        (line(stamp(2, 0), q="-1"), "negative_flow"),
        (line(stamp(2, 0), o2="21"), "o2_at_or_above_21"),
        (line(stamp(2, 0), c="5000"), "concentration_above_analyser_range"),
        (line("2025-03-02 00:00"), "hour_start_without_timezone"),
        ("E1,SINTER-1,SO2\n", "malformed_row"),
    ],
)
def test_a_bad_row_refuses_the_whole_file_and_names_its_line(
    outlets: Store, bad: str, code: str
) -> None:
    error = refused(outlets, [line(stamp(1, 0)), line(stamp(1, 1)), bad, line(stamp(3, 0))])
    assert located(error) == [(4, code)]  # the header is line 1
    assert error.count == 1


def test_a_duplicate_hour_within_the_file_is_refused_at_its_second_line(outlets: Store) -> None:
    error = refused(outlets, [line(stamp(1, 0)), line(stamp(1, 1)), line(stamp(1, 0), c="21")])
    assert located(error) == [(4, "duplicate_hour")]
    assert "line 2" in error.problems[0].detail


def test_problems_are_listed_by_line_up_to_the_cap_and_all_counted(outlets: Store) -> None:
    lines = [line(stamp(1 + h // 24, h % 24), q="-1") for h in range(150)]
    lines += [line(stamp(9, 0)), line(stamp(9, 0))]  # and a duplicate, found in the database
    error = refused(outlets, lines)
    assert error.count == 151
    assert len(error.problems) == PROBLEMS_SHOWN_MAX
    assert [p.line for p in error.problems] == list(range(2, 2 + PROBLEMS_SHOWN_MAX))


def test_importing_the_same_file_twice_changes_nothing(outlets: Store) -> None:
    first = import_lines(outlets, full_month())
    again = import_lines(outlets, full_month())
    assert again.replayed and again.record == first.record
    assert count(outlets, "cems_hours") == 744
    assert count(outlets, "cems_imports") == 1


def test_hours_stored_already_with_the_same_values_are_skipped(outlets: Store) -> None:
    import_lines(outlets, [line(stamp(1, 0)), line(stamp(1, 1))])
    record = import_lines(outlets, [line(stamp(1, 1)), line(stamp(1, 2))]).record  # another file
    assert (record.inserted, record.unchanged) == (1, 1)
    assert count(outlets, "cems_hours") == 3


def test_an_hour_stored_already_with_other_values_is_a_conflict(outlets: Store) -> None:
    import_lines(outlets, [line(stamp(1, 0))])
    with pytest.raises(CemsImportRefused) as caught:
        import_lines(outlets, [line(stamp(1, 1)), line(stamp(1, 0), c="21")])
    assert located(caught.value) == [(3, "hour_conflicts_with_stored")]
    assert count(outlets, "cems_hours") == 1


def test_a_later_import_re_aggregates_the_whole_month(outlets: Store) -> None:
    import_lines(outlets, full_month()[:400])
    import_lines(outlets, full_month()[400:])
    (stored,) = march(outlets)
    assert (stored.aggregate.valid_hours, stored.aggregate.month_valid) == (744, True)


def test_an_enterprise_cannot_import_cems_data_even_for_its_own_outlet(outlets: Store) -> None:
    # Rules §7.4: CEMS data come from the monitoring network or the regulator, never from the
    # enterprise whose tax they decide.
    with pytest.raises(Forbidden):
        import_lines(outlets, [line(stamp(1, 0))], by=clerk(outlets))
    assert count(outlets, "cems_hours") == 0
    with outlets(read_only=True) as uow:
        audit = uow.access.list_audit("e1-user", 0, 10)
    assert [(a.action, a.outcome, a.code) for a in audit] == [
        ("cems.import", "denied", "forbidden")
    ]


def test_the_same_bytes_from_the_regulator_replay_the_networks_import(outlets: Store) -> None:
    first = import_lines(outlets, [line(stamp(1, 0))]).record  # by the monitoring network

    again = import_lines(outlets, [line(stamp(1, 0))], by=regulator(outlets))

    assert (again.record, again.replayed) == (first, True)
    assert count(outlets, "cems_imports") == 1


def test_an_import_is_audited_as_its_importers_own(outlets: Store) -> None:
    import_lines(outlets, [line(stamp(1, 0))])
    with pytest.raises(CemsImportRefused):
        import_lines(outlets, [line(stamp(1, 0), outlet="E9,UNIT-1")])

    with outlets(read_only=True) as uow:
        audit = uow.access.list_audit("cems-network", 0, 10)
    assert [(a.action, a.outcome, a.code) for a in audit] == [
        ("cems.import", "ok", None),
        ("cems.import", "rejected", "cems_import_refused"),
    ]


def test_an_enterprise_sees_only_its_own_aggregates(outlets: Store) -> None:
    import_lines(outlets, [line(stamp(1, 0)), line(stamp(1, 0), outlet="E2,UNIT-1")])
    mine = monitoring.list_months(outlets, clerk(outlets), MARCH_ONLY, None, 100)
    assert [m.party for m in mine.items] == ["E1"]
    handan = city_authority(outlets, "Handan")
    theirs = monitoring.list_months(outlets, handan, MARCH_ONLY, None, 100)
    assert [m.party for m in theirs.items] == ["E2"]


def test_a_scoped_listing_pages_through_its_own_rows_only(outlets: Store) -> None:
    # E1's and E2's months alternate in storage; Handan's pages hold E2's months only, each
    # page full until the last, so the pages say nothing of the rows in between.
    for month in (1, 2, 3):
        start = stamp(1, 0, MARCH.replace(month=month))
        import_lines(outlets, [line(start), line(start, outlet="E2,UNIT-1")])
    handan = city_authority(outlets, "Handan")
    pages, cursor = [], None
    while True:
        page = monitoring.list_months(
            outlets, handan, monitoring.MonthFilter(MARCH.replace(month=1), MARCH), cursor, 1
        )
        pages.append([(m.party, m.aggregate.month.month) for m in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == [[("E2", 1)], [("E2", 2)], [("E2", 3)], []]


def test_the_database_refuses_to_change_a_stored_hour(outlets: Store) -> None:
    import_lines(outlets, [line(stamp(1, 0))])
    for statement in ("UPDATE cems_hours SET concentration = 1", "DELETE FROM cems_hours"):
        with pytest.raises(sqlalchemy.exc.DatabaseError), outlets.engine.begin() as connection:
            connection.execute(text(statement))
    assert count(outlets, "cems_hours") == 1
