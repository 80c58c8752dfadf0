"""Report periods, tax quarters and finance periods: of a year within the documented range
(2000 to 2100), like every date the ledger accepts."""

from __future__ import annotations

import pytest

from ledger.domain.errors import LedgerError
from ledger.domain.finance import parse_period
from ledger.domain.reports import Period, PeriodKind
from ledger.domain.tax_filing import Quarter


@pytest.mark.parametrize(
    "text", ["0000", "0000Q1", "0000-01", "999", "3000", "1999", "2101Q1", "2101-01", "2025-13"]
)
def test_a_period_outside_the_calendar_is_refused(text: str) -> None:
    with pytest.raises(LedgerError) as refused:
        Period.parse(text)

    assert refused.value.code == "invalid_field"


def test_a_year_has_its_twelve_months() -> None:
    year = Period.parse("2025")

    assert year.kind is PeriodKind.YEAR
    assert [month.month for month in year.months()] == list(range(1, 13))


@pytest.mark.parametrize("text", ["1999Q4", "2101Q1"])
def test_a_tax_quarter_outside_the_documented_years_is_refused(text: str) -> None:
    with pytest.raises(LedgerError) as refused:
        Quarter.parse(text)

    assert (refused.value.code, refused.value.field) == ("invalid_field", "quarter")


@pytest.mark.parametrize("label", ["1999-12", "2101", "2101-Q1"])
def test_a_finance_period_outside_the_documented_years_is_no_period(label: str) -> None:
    with pytest.raises(LedgerError) as refused:
        parse_period(label)

    assert refused.value.code == "period_not_found"
