"""Exact amounts: decimal strings in, integer units stored, nothing ever rounded or floated."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money

from ledger.domain.amounts import Instrument, InstrumentKind, parse_decimal, to_units
from ledger.domain.limits import SCALE_MAX, UNITS_MAX
from tests.factories import CEA, CNY, SO2
from tests.unit.refusals import refusal

# -- to_units -------------------------------------------------------------------------------


def test_an_amount_at_the_instruments_scale_becomes_exact_integer_units() -> None:
    assert SO2.to_units(Decimal("30.000")) == 30_000
    assert SO2.to_units(Decimal("0.001")) == 1
    assert CNY.to_units(Decimal("12.30")) == 1_230
    assert CEA.to_units(Decimal("5")) == 5


def test_an_amount_with_fewer_places_than_the_scale_is_accepted() -> None:
    assert SO2.to_units(Decimal("1.5")) == 1_500
    assert CNY.to_units(Decimal("7")) == 700


def test_trailing_zeros_beyond_the_scale_are_accepted_because_the_value_is_exact() -> None:
    assert CNY.to_units(Decimal("1.5000")) == 150
    assert CEA.to_units(Decimal("2.000")) == 2


def test_an_amount_finer_than_the_scale_is_refused_as_too_precise() -> None:
    error = refusal(lambda: CNY.to_units(Decimal("12.301"), field="postings[0].amount"))

    assert error.code == "amount_too_precise"
    assert error.field == "postings[0].amount"
    assert error.context["scale"] == 2


def test_a_fraction_of_a_whole_tonne_allowance_is_refused_as_too_precise() -> None:
    assert refusal(lambda: CEA.to_units(Decimal("0.5"))).code == "amount_too_precise"


def test_the_smallest_step_below_the_smallest_unit_is_refused_as_too_precise() -> None:
    assert refusal(lambda: SO2.to_units(Decimal("0.0009"))).code == "amount_too_precise"


@pytest.mark.parametrize("amount", ["0", "0.000", "-0", "-1", "-0.001"])
def test_zero_and_negative_amounts_are_refused_as_not_positive(amount: str) -> None:
    error = refusal(lambda: SO2.to_units(Decimal(amount), field="amount"))

    assert error.code == "amount_not_positive"
    assert error.field == "amount"


def test_the_largest_storable_number_of_units_is_accepted() -> None:
    assert CEA.to_units(Decimal(UNITS_MAX)) == UNITS_MAX
    assert SO2.to_units(Decimal(UNITS_MAX).scaleb(-3)) == UNITS_MAX


def test_one_unit_more_than_the_largest_storable_is_refused_as_too_large() -> None:
    assert refusal(lambda: CEA.to_units(Decimal(UNITS_MAX + 1))).code == "amount_too_large"
    assert refusal(lambda: SO2.to_units(Decimal(UNITS_MAX + 1).scaleb(-3))).code == (
        "amount_too_large"
    )


def test_an_amount_in_exponent_form_beyond_the_largest_storable_is_refused_as_too_large() -> None:
    assert refusal(lambda: SO2.to_units(Decimal("1E+30"))).code == "amount_too_large"


def test_an_amount_too_long_for_exact_arithmetic_is_refused_instead_of_rounded() -> None:
    seventy_digits_and_a_tenth = Decimal("1" * 70 + ".1")

    assert refusal(lambda: CEA.to_units(seventy_digits_and_a_tenth)).code == "amount_too_large"


def test_a_huge_amount_with_a_tiny_fraction_is_refused_not_rounded_to_units() -> None:
    almost_max = Decimal(f"{UNITS_MAX - 1}.0000000001")

    assert refusal(lambda: CEA.to_units(almost_max)).code == "amount_too_precise"


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_a_non_finite_decimal_is_refused_as_a_ledger_error(amount: str) -> None:
    # A service caller may build PostingRequest with a Decimal directly; a NaN or an infinity
    # must become a rejection (a 4xx), not a decimal.InvalidOperation or OverflowError (a 500).
    assert refusal(lambda: to_units(Decimal(amount), 3)).field == "amount"


# -- parse_decimal --------------------------------------------------------------------------


def test_a_wire_decimal_string_parses_to_the_exact_decimal_with_its_places() -> None:
    parsed = parse_decimal("12.30")

    assert parsed == Decimal("12.30")
    assert parsed.as_tuple().exponent == -2


def test_a_forty_digit_string_is_kept_exact_to_its_last_digit() -> None:
    digits = "1234567890" * 4

    assert parse_decimal(digits) == Decimal(int(digits))
    assert refusal(lambda: CEA.to_units(parse_decimal(digits))).code == "amount_too_large"


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "nan",
        "-NaN",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "Inf",
        "1e3",
        "1E3",
        "1e-3",
        "2.5E+2",
        " 1",
        "1 ",
        "\t1",
        "1\n",
        "\u00a01",
        "",
        "abc",
        "0x10",
        "1,5",
        "1.2.3",
        "1 000",
        "--1",
    ],
)
def test_floats_spellings_and_non_numbers_are_refused_as_invalid(text: str) -> None:
    error = refusal(lambda: parse_decimal(text, field="postings[2].amount"))

    assert error.code == "invalid_field"
    assert error.field == "postings[2].amount"


def test_a_string_longer_than_forty_characters_is_refused_without_parsing() -> None:
    assert refusal(lambda: parse_decimal("1" * 41)).code == "invalid_field"


def test_a_float_instead_of_a_string_is_refused() -> None:
    assert refusal(lambda: parse_decimal(1.5)).code == "invalid_field"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    ["1_000", "12_345.678", "\u0661\u0662\u0663", "\uff11\uff12\uff13"],
    ids=["underscore", "underscore-with-places", "arabic-indic-digits", "full-width-digits"],
)
def test_python_only_spellings_of_numbers_are_refused_as_invalid(text: str) -> None:
    # Decimal() accepts Python literal underscores and any Unicode digit; a wire amount is a
    # plain ASCII decimal ("12.30"), so "1_000" must not silently become 1000.
    assert refusal(lambda: parse_decimal(text)).code == "invalid_field"


# -- Instrument -----------------------------------------------------------------------------


def test_an_amount_is_formatted_with_exactly_the_instruments_number_of_places() -> None:
    assert SO2.format(30_000) == "30.000"
    assert SO2.format(1) == "0.001"
    assert CNY.format(1_230) == "12.30"
    assert CEA.format(5) == "5"


def test_a_negative_balance_is_formatted_with_its_sign_and_places() -> None:
    assert CNY.format(-5) == "-0.05"


def test_the_largest_storable_amount_is_formatted_exactly_at_the_finest_scale() -> None:
    finest = Instrument("NANO", "Finest offset", InstrumentKind.OFFSET, "t", SCALE_MAX)

    assert finest.format(UNITS_MAX) == "9223372036.854775807"


def test_cash_units_become_py_moneyed_money_in_the_instruments_currency() -> None:
    assert CNY.to_money(1_230) == Money("12.30", "CNY")


def test_money_in_the_instruments_currency_becomes_units() -> None:
    assert CNY.money_to_units(Money("12.30", "CNY")) == 1_230


def test_money_finer_than_a_fen_is_refused_as_too_precise() -> None:
    assert refusal(lambda: CNY.money_to_units(Money("12.301", "CNY"))).code == (
        "amount_too_precise"
    )


def test_money_in_another_currency_is_refused() -> None:
    error = refusal(lambda: CNY.money_to_units(Money("12.30", "USD")))

    assert error.code == "invalid_field"
    assert error.field == "currency"


def test_zero_money_is_refused_as_not_positive() -> None:
    assert refusal(lambda: CNY.money_to_units(Money("0", "CNY"))).code == "amount_not_positive"


@pytest.mark.parametrize("scale", [0, 1, 3])
def test_a_cash_instrument_must_have_two_places(scale: int) -> None:
    error = refusal(lambda: Instrument("CNY", "Yuan", InstrumentKind.CASH, "CNY", scale))

    assert error.code == "invalid_field"
    assert error.field == "scale"


@pytest.mark.parametrize("scale", [-1, SCALE_MAX + 1])
def test_a_scale_outside_zero_to_nine_is_refused(scale: int) -> None:
    error = refusal(lambda: Instrument("X", "X", InstrumentKind.OFFSET, "t", scale))

    assert error.code == "invalid_field"
    assert error.field == "scale"


# -- properties -----------------------------------------------------------------------------


@st.composite
def amounts_within_scale(draw: st.DrawFn) -> tuple[Instrument, Decimal]:
    """An instrument of any scale and any positive storable Decimal with at most `scale` places."""
    scale = draw(st.integers(min_value=0, max_value=SCALE_MAX))
    places = draw(st.integers(min_value=0, max_value=scale))
    amount = draw(
        st.decimals(
            min_value=Decimal(1).scaleb(-places),
            max_value=Decimal(UNITS_MAX).scaleb(-scale),
            places=places,
        )
    )
    return Instrument("X", "X", InstrumentKind.OFFSET, "t", scale), amount


@given(amounts_within_scale())
def test_any_amount_within_the_scale_survives_the_round_trip_through_units(
    case: tuple[Instrument, Decimal],
) -> None:
    instrument, amount = case

    assert instrument.to_amount(instrument.to_units(amount)) == amount


@given(st.integers(min_value=0, max_value=SCALE_MAX), st.integers(min_value=1, max_value=UNITS_MAX))
def test_any_formatted_amount_parses_back_to_the_same_units(scale: int, units: int) -> None:
    instrument = Instrument("X", "X", InstrumentKind.OFFSET, "t", scale)

    assert instrument.to_units(parse_decimal(instrument.format(units))) == units


@given(
    st.integers(min_value=0, max_value=SCALE_MAX - 1),
    st.integers(min_value=1, max_value=UNITS_MAX // 10),
    st.integers(min_value=1, max_value=9),
)
def test_any_amount_with_a_nonzero_digit_beyond_the_scale_is_refused(
    scale: int, units: int, extra_digit: int
) -> None:
    instrument = Instrument("X", "X", InstrumentKind.OFFSET, "t", scale)
    amount = Decimal(units).scaleb(-scale) + Decimal(extra_digit).scaleb(-scale - 1)

    assert refusal(lambda: instrument.to_units(amount)).code == "amount_too_precise"


@given(
    st.integers(min_value=0, max_value=SCALE_MAX),
    st.from_regex(r"[1-9][0-9]{0,39}", fullmatch=True),
)
def test_any_digit_string_converts_to_exactly_its_value_or_is_refused_as_too_large(
    scale: int, digits: str
) -> None:
    instrument = Instrument("X", "X", InstrumentKind.OFFSET, "t", scale)
    exact = int(digits) * 10**scale

    if exact <= UNITS_MAX:
        assert instrument.to_units(parse_decimal(digits)) == exact
    else:
        assert refusal(lambda: instrument.to_units(parse_decimal(digits))).code == (
            "amount_too_large"
        )
