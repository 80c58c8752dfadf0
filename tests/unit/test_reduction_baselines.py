"""The derived baseline of a verified reduction (rules §7.8): whichever is lower, per hour."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.incentives import (
    Baseline,
    BaselineKind,
    ReductionBaselineUnknown,
    ReductionClaim,
    calendar_hours,
    lower_baseline,
    months_before,
    reduction_kg,
)

kg = st.integers(min_value=0, max_value=10**9).map(Decimal)
hours = st.integers(min_value=1, max_value=8_784)


def reduction(baseline: Baseline, actual: Decimal, actual_hours: int) -> int:
    claim = ReductionClaim(
        party="E01",
        pollutant="SO2",
        year=2026,
        baseline_kind=baseline.kind,
        baseline_kg=baseline.kg,
        baseline_hours=baseline.hours,
        actual_kg=actual,
        actual_hours=actual_hours,
    )
    return reduction_kg(claim)


@given(kg, hours, kg, hours, kg, hours)
def test_the_derived_baseline_never_supports_more_than_either_candidate(  # noqa: PLR0917
    entitled: Decimal,
    entitled_hours: int,
    measured: Decimal,
    measured_hours: int,
    actual: Decimal,
    actual_hours: int,
) -> None:
    candidates = [
        Baseline(BaselineKind.PRIOR_ENTITLEMENT, entitled, entitled_hours),
        Baseline(BaselineKind.CEMS_BASELINE, measured, measured_hours),
    ]

    chosen = reduction(lower_baseline(candidates), actual, actual_hours)

    assert all(chosen <= reduction(c, actual, actual_hours) for c in candidates)


def test_no_candidate_is_no_baseline() -> None:
    with pytest.raises(ReductionBaselineUnknown):
        lower_baseline([])


def test_the_twelve_months_before_a_retrofit_cross_the_year() -> None:
    window = months_before(date(2026, 3, 1))

    assert (window[0], window[-1], len(window)) == (date(2025, 3, 1), date(2026, 2, 1), 12)
    assert calendar_hours(window) == 8_760
    assert calendar_hours([date(2024, 2, 1)]) == 29 * 24
