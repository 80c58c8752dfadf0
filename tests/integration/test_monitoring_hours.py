"""A month hour by hour (`monitoring.month_of_hours`) on both databases: every stored hour with
its reading on the standard's basis, its substitute when not valid, the exceedances the monthly
aggregate counts; an outlet out of the reader's scope is refused like an unknown one."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from ledger.domain.errors import RecordNotFound
from ledger.persistence.store import Store
from ledger.services import monitoring
from tests.integration.monitoring_support import (
    MARCH,
    build_outlets,
    clerk,
    full_month,
    import_lines,
    line,
    regulator,
    stamp,
    verifier,
)

GAP = {stamp(5, 10), stamp(5, 11), stamp(5, 12)}  # three hours of 30 valid minutes: not valid
HIGH = stamp(6, 8)  # 40 mg/Nm³ against the standard of 35


@pytest.fixture
def march(store: Store) -> Store:
    """E1's SINTER-1 in March 2025: SO2 at 20, a three-hour gap and one hour above the limit."""
    build_outlets(store)
    changed = {start: line(start, minutes="30") for start in GAP} | {HIGH: line(HIGH, c="40")}
    rows = [row for row in full_month("20", MARCH) if row.split(",")[3] not in changed]
    import_lines(store, [*rows, *changed.values()])
    return store


def test_each_hour_is_shown_with_its_substitute_and_exceedance(march: Store) -> None:
    found = monitoring.month_of_hours(march, clerk(march), "E1", "SINTER-1", "SO2", MARCH)
    stored = (
        monitoring.list_months(
            march,
            regulator(march),
            monitoring.MonthFilter(MARCH, MARCH, "E1", "SINTER-1", "SO2"),
            None,
            10,
        )
        .items[0]
        .aggregate
    )
    assert len(found.hours) == 31 * 24 == stored.hours_received
    substituted = [h for h in found.hours if h.substitute is not None]
    exceeding = [h for h in found.hours if h.exceeds]
    assert len(substituted) == stored.substituted_hours == 3
    assert all(h.valid_minutes == 30 and h.method for h in substituted)
    assert len(exceeding) == stored.exceedances == 1
    assert exceeding[0].value == Fraction(40)  # O2 at the reference: measured = on the basis
    assert {h.value for h in found.hours if not h.exceeds} == {Fraction(20)}
    assert [h.hour for h in found.hours] == sorted(h.hour for h in found.hours)


def test_a_verifier_reads_any_outlet_and_an_enterprise_only_its_own(march: Store) -> None:
    read = monitoring.month_of_hours(march, verifier(march), "E1", "SINTER-1", "SO2", MARCH)
    assert len(read.hours) == 744
    with pytest.raises(RecordNotFound):
        monitoring.month_of_hours(march, clerk(march, "E2"), "E1", "SINTER-1", "SO2", MARCH)
    with pytest.raises(RecordNotFound):
        monitoring.month_of_hours(march, verifier(march), "E1", "NO-SUCH", "SO2", MARCH)
    empty = monitoring.month_of_hours(
        march, verifier(march), "E1", "SINTER-1", "SO2", date(2025, 4, 1)
    )
    assert empty.hours == ()
