"""Business dates (rules §7.11), as pure rules: which dates are accepted, and where on the
effective axis an accepted one puts its entries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.bounds import DateOutOfRange
from ledger.domain.business_dates import (
    BusinessDateBeforeVintage,
    BusinessDateInFuture,
    check_business_date,
)
from ledger.domain.errors import LedgerError
from ledger.domain.finance import beijing_date, end_of_day

DAYS = st.dates(date(2000, 1, 1), date(2100, 12, 31))
VINTAGES = st.lists(st.none() | st.integers(2000, 2100), max_size=5)


@given(day=DAYS, today=DAYS, vintages=VINTAGES)
def test_a_date_is_accepted_exactly_when_it_is_past_and_not_before_its_vintages(
    day: date, today: date, vintages: list[int | None]
) -> None:
    earliest = min((v for v in vintages if v is not None), default=day.year)
    try:
        moment = check_business_date(day, today=today, vintages=vintages)
    except BusinessDateInFuture:
        assert day > today
    except BusinessDateBeforeVintage:
        assert day <= today
        assert day.year < earliest
    else:
        assert day <= today
        assert day.year >= earliest
        # The start of the Beijing day: "as of day" counts it, "as of the day before" does not.
        assert beijing_date(moment) == day
        if day > date(2000, 1, 1):
            assert end_of_day(day - timedelta(days=1)) == moment


@pytest.mark.parametrize(
    ("day", "vintages", "error", "field"),
    [
        (date(2019, 6, 1), [2025], BusinessDateBeforeVintage, "trade_date"),
        (date(2026, 12, 6), [], BusinessDateInFuture, "trade_date"),
        (date(1999, 12, 31), [], DateOutOfRange, "trade_date"),
    ],
)
def test_each_refusal_names_the_date_field(
    day: date, vintages: list[int | None], error: type[LedgerError], field: str
) -> None:
    with pytest.raises(error) as refused:
        check_business_date(day, today=date(2026, 12, 5), vintages=vintages, field=field)
    assert refused.value.field == field
