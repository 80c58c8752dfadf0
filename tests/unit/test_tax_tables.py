"""The tax tables as data (rules.md §7.6), pure: which entry is in force, where a place is
taxed, what the tables refuse, and the statutory seed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.errors import InvalidField
from ledger.domain.tax_tables import (
    HEBEI,
    NATIONAL_MINIMUM,
    EquivalentValue,
    Membership,
    Placement,
    Pollutant,
    Rate,
    RateCategory,
    TableEntry,
    TableValue,
    TaxTables,
    TierWithoutRates,
    check_entry,
    entry_payload,
    statutory_schedule,
    statutory_tables,
    statutory_values,
    value_from_payload,
)

D = Decimal
P = Pollutant
STATUTE = statutory_tables()
JAN = date(2026, 1, 1)
MONTHS = [date(2018 + i // 12, i % 12 + 1, 1) for i in range(60)]


def with_entries(*added: tuple[date, TableValue]) -> TaxTables:
    extra = tuple(TableEntry(f"x{i}", day, value, "admin") for i, (day, value) in enumerate(added))
    return TaxTables(STATUTE.entries + extra)


@given(
    st.lists(
        st.tuples(st.sampled_from(MONTHS), st.decimals("0.01", "10", places=2)),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(MONTHS),
)
def test_the_entry_in_force_is_the_latest_valid_then_the_last_recorded(
    changes: list[tuple[date, Decimal]], day: date
) -> None:
    tables = with_entries(*((start, EquivalentValue(P.SO2, kg)) for start, kg in changes))
    valid = [(start, i, kg) for i, (start, kg) in enumerate(changes) if start <= day]
    expected = max(valid)[2] if valid else D("0.95")  # else the statute's
    assert tables.schedule_for("Tangshan", "", day).equivalent_value(P.SO2) == expected


def test_a_county_membership_wins_over_its_city_and_none_is_the_national_minimum() -> None:
    day = date(2026, 1, 1)
    assert STATUTE.placement("Langfang", "Sanhe", day) == Placement(HEBEI, "1")
    assert STATUTE.placement("Langfang", "Guangyang", day) == Placement(HEBEI, "2")
    assert STATUTE.placement("Taiyuan", "", day) == NATIONAL_MINIMUM
    national = STATUTE.schedule_for("Taiyuan", "", day)
    assert [national.rate(p) for p in (P.SO2, P.SOOT, P.COD, P.SS)] == [
        D("1.2"),
        D("1.2"),
        D("1.4"),
        D("1.4"),
    ]


def test_the_statutory_schedule_is_hebeis_2018_table() -> None:
    day = date(2026, 1, 1)
    assert [statutory_schedule(t, day).rate(P.SO2) for t in (1, 2, 3)] == [
        D("9.6"),
        D("6.0"),
        D("4.8"),
    ]
    assert len(statutory_values()) == len(STATUTE.entries) == 24 + 16 + 14 + 8


@pytest.mark.parametrize(
    ("valid_from", "value", "field"),
    [
        (date(2026, 1, 15), EquivalentValue(P.SO2, D("1")), "valid_from"),
        (JAN, EquivalentValue(P.SO2, D("0.00000000001")), "kg_per_equivalent"),
        (JAN, EquivalentValue(P.SO2, D("1001")), "kg_per_equivalent"),
        (JAN, Rate(HEBEI, "1", RateCategory.OTHER_WATER, D("14.01")), "cny_per_equivalent"),
        (JAN, Rate(HEBEI, "1", RateCategory.OTHER_AIR, D("1.19")), "cny_per_equivalent"),
        (JAN, Rate(HEBEI, "1", RateCategory.OTHER_AIR, D("1.23456")), "cny_per_equivalent"),
        (JAN, Rate(HEBEI, "tier one!", RateCategory.OTHER_AIR, D("2")), "tier"),
        (JAN, Membership("Tangshan", " Fengnan", HEBEI, "1"), "county"),
    ],
)
def test_what_the_tables_cannot_hold_is_refused(
    valid_from: date, value: TableValue, field: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        check_entry(TableEntry("e", valid_from, value, "admin"), STATUTE)
    assert refused.value.field == field


def test_a_new_schemes_places_need_its_rates_first() -> None:
    """Another province's scheme is data: its rates, then its memberships."""
    day = date(2027, 1, 1)
    place = Membership("Taiyuan", "", "shanxi", "1")
    with pytest.raises(TierWithoutRates):
        check_entry(TableEntry("m", day, place, "admin"), STATUTE)
    rates: list[TableValue] = [Rate("shanxi", "1", c, D("1.8")) for c in RateCategory]
    tables = with_entries(*((day, r) for r in rates))
    check_entry(TableEntry("m", day, place, "admin"), tables)
    tables = with_entries(*((day, v) for v in (*rates, place)))
    assert tables.schedule_for("Taiyuan", "", day).rate(P.NOX) == D("1.8")
    assert tables.placement("Taiyuan", "", date(2026, 12, 1)) == NATIONAL_MINIMUM


@pytest.mark.parametrize(
    "value",
    [
        Rate(HEBEI, "2", RateCategory.COD_NH3N, D("7.0")),
        EquivalentValue(P.BENZO_A_PYRENE, D("0.0000003")),
        Membership("Langfang", "Sanhe", HEBEI, "1"),
    ],
)
def test_a_payload_gives_its_entry_back(value: TableValue) -> None:
    payload = entry_payload("e", date(2026, 1, 1), value)
    assert value_from_payload(payload) == value
