"""What the ledger reads as a number in text: ASCII digits 0-9 only."""

from __future__ import annotations

import pytest

from ledger.domain.bounds import is_digits, parse_month
from ledger.domain.errors import InvalidField
from ledger.domain.reports import Period
from ledger.domain.tax_filing import Quarter


@pytest.mark.parametrize("text", ["0", "2025", "000123"])
def test_ascii_digits_are_digits(text: str) -> None:
    assert is_digits(text)


@pytest.mark.parametrize("text", ["", "²", "٢٠٢٥", "２０２５", "1²", "-1", "1.0", " 1"])
def test_anything_else_is_not(text: str) -> None:
    assert not is_digits(text)


@pytest.mark.parametrize("text", ["٢٠٢٥-٠١", "２０２５-０１", "²⁰²⁵-⁰¹"])
def test_a_month_of_other_digits_is_refused_naming_its_field(text: str) -> None:
    with pytest.raises(InvalidField) as refused:
        parse_month(text, "month")
    assert refused.value.field == "month"


@pytest.mark.parametrize("text", ["٢٠٢٥Q1", "٢٠٢٥-٠١", "２０２５"])
def test_a_period_of_other_digits_is_refused(text: str) -> None:
    with pytest.raises(InvalidField):
        Period.parse(text)


def test_a_tax_quarter_of_other_digits_is_refused() -> None:
    with pytest.raises(InvalidField):
        Quarter.parse("٢٠٢٥Q1")
