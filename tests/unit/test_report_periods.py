"""Report periods: a month, a quarter or a year, of a year a date can have."""

from __future__ import annotations

import pytest

from ledger.domain.errors import LedgerError
from ledger.domain.reports import Period, PeriodKind


@pytest.mark.parametrize("text", ["0000", "0000Q1", "0000-01", "999", "3000", "2025-13"])
def test_a_period_outside_the_calendar_is_refused(text: str) -> None:
    with pytest.raises(LedgerError) as refused:
        Period.parse(text)

    assert refused.value.code == "invalid_field"


def test_a_year_has_its_twelve_months() -> None:
    year = Period.parse("2025")

    assert year.kind is PeriodKind.YEAR
    assert [month.month for month in year.months()] == list(range(1, 13))
