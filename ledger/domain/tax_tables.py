"""Environmental Protection Tax constants as effective-dated tables (rules.md §1.2).

Pollution equivalent values (kg per equivalent) and Hebei rates (CNY per equivalent, by tier)
change over time, so each lives in an `EffectiveDated` table looked up by the day the tax is
for. Everything is an exact Decimal written as a string literal; nothing here rounds.

Class-1 water pollutants (第一类水污染物) and their equivalent values come from annex 2 of
the Environmental Protection Tax Law as reprinted by tax bureaus **[secondary: not in
rules.md, confirm before go-live]**. Only the water pollutants of rules.md §1.2 are in the
"other water" list; `FLUORIDE` is the air pollutant (0.87; water fluoride, 0.5, is not here),
and BOD5/TOC (taxed only as one with COD) are not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Generic, TypeVar

from ledger.domain.errors import Kind, LedgerError

T = TypeVar("T")


class NoTableInForce(
    LedgerError,
    code="no_tax_table_in_force",
    kind=Kind.UNPROCESSABLE,
    title="No tax table in force on that day",
):
    """No version of a tax table was in force on the requested day."""


class UnknownTaxRate(
    LedgerError,
    code="unknown_tax_rate",
    kind=Kind.UNPROCESSABLE,
    title="No tax constant for this pollutant or tier",
):
    """The table in force has no entry for this pollutant or tier."""


class Medium(Enum):
    """Where a pollutant is discharged."""

    AIR = "air"
    WATER = "water"


class RateCategory(Enum):
    """The columns of the Hebei rate table (rules.md §1.2)."""

    SO2_NOX = "so2_nox"
    OTHER_AIR = "other_air"
    COD_NH3N = "cod_nh3n"
    OTHER_WATER = "other_water"


class Pollutant(Enum):
    """Taxable pollutants, by their tax-table identity (not by what a CEMS analyser measures).

    Measured particulate (PM) is taxed as SOOT for combustion flue gas or GENERAL_DUST for
    process/fugitive dust; the outlet's registration decides (outlets.csv).
    """

    SO2 = "SO2"
    NOX = "NOx"
    SOOT = "soot"
    GENERAL_DUST = "general_dust"
    CO = "CO"
    FLUORIDE = "fluoride"
    HCL = "HCl"
    NH3 = "NH3"
    COD = "COD"
    NH3_N = "NH3-N"
    SS = "SS"
    PETROLEUM = "petroleum"
    TOTAL_P = "total_P"
    VOLATILE_PHENOL = "volatile_phenol"
    # Class-1 water pollutants (第一类水污染物), taxed top 5 per outlet.
    TOTAL_HG = "total_Hg"
    TOTAL_CD = "total_Cd"
    TOTAL_CR = "total_Cr"
    CR6 = "Cr6+"
    TOTAL_AS = "total_As"
    TOTAL_PB = "total_Pb"
    TOTAL_NI = "total_Ni"
    BENZO_A_PYRENE = "benzo_a_pyrene"
    TOTAL_BE = "total_Be"
    TOTAL_AG = "total_Ag"

    @property
    def medium(self) -> Medium:
        """Air or water."""
        return Medium.AIR if self in _AIR else Medium.WATER

    @property
    def water_class_1(self) -> bool:
        """True for class-1 water pollutants (top 5 taxed), False for all others."""
        return self in WATER_CLASS_1

    @property
    def rate_category(self) -> RateCategory:
        """Which column of the rate table applies."""
        if self in (Pollutant.SO2, Pollutant.NOX):
            return RateCategory.SO2_NOX
        if self in (Pollutant.COD, Pollutant.NH3_N):
            return RateCategory.COD_NH3N
        return RateCategory.OTHER_AIR if self.medium is Medium.AIR else RateCategory.OTHER_WATER


_AIR = frozenset(
    {
        Pollutant.SO2,
        Pollutant.NOX,
        Pollutant.SOOT,
        Pollutant.GENERAL_DUST,
        Pollutant.CO,
        Pollutant.FLUORIDE,
        Pollutant.HCL,
        Pollutant.NH3,
    }
)

WATER_CLASS_1 = frozenset(
    {
        Pollutant.TOTAL_HG,
        Pollutant.TOTAL_CD,
        Pollutant.TOTAL_CR,
        Pollutant.CR6,
        Pollutant.TOTAL_AS,
        Pollutant.TOTAL_PB,
        Pollutant.TOTAL_NI,
        Pollutant.BENZO_A_PYRENE,
        Pollutant.TOTAL_BE,
        Pollutant.TOTAL_AG,
    }
)


@dataclass(frozen=True, slots=True)
class EffectiveDated(Generic[T]):
    """Versions of a table, each in force from its date until the next one's."""

    name: str
    versions: tuple[tuple[date, T], ...]

    def __post_init__(self) -> None:
        days = [day for day, _ in self.versions]
        if days != sorted(set(days)):
            raise ValueError(f"{self.name}: versions must have strictly increasing dates")

    def at(self, day: date) -> T:
        """The version in force on `day`; refuses a day before the first version."""
        in_force = [value for start, value in self.versions if start <= day]
        if not in_force:
            raise NoTableInForce(f"no {self.name} in force on {day.isoformat()}", day=day)
        return in_force[-1]


_D = Decimal

EQUIVALENT_VALUES_2018: Mapping[Pollutant, Decimal] = {
    Pollutant.SO2: _D("0.95"),
    Pollutant.NOX: _D("0.95"),
    Pollutant.SOOT: _D("2.18"),
    Pollutant.GENERAL_DUST: _D("4"),
    Pollutant.CO: _D("16.7"),
    Pollutant.FLUORIDE: _D("0.87"),
    Pollutant.HCL: _D("10.75"),
    Pollutant.NH3: _D("9.09"),
    Pollutant.COD: _D("1"),
    Pollutant.NH3_N: _D("0.8"),
    Pollutant.SS: _D("4"),
    Pollutant.PETROLEUM: _D("0.1"),
    Pollutant.TOTAL_P: _D("0.25"),
    Pollutant.VOLATILE_PHENOL: _D("0.08"),
    Pollutant.TOTAL_HG: _D("0.0005"),
    Pollutant.TOTAL_CD: _D("0.005"),
    Pollutant.TOTAL_CR: _D("0.04"),
    Pollutant.CR6: _D("0.02"),
    Pollutant.TOTAL_AS: _D("0.02"),
    Pollutant.TOTAL_PB: _D("0.025"),
    Pollutant.TOTAL_NI: _D("0.025"),
    Pollutant.BENZO_A_PYRENE: _D("0.0000003"),
    Pollutant.TOTAL_BE: _D("0.01"),
    Pollutant.TOTAL_AG: _D("0.02"),
}

EQUIVALENT_VALUES: EffectiveDated[Mapping[Pollutant, Decimal]] = EffectiveDated(
    "pollution equivalent values", ((date(2018, 1, 1), EQUIVALENT_VALUES_2018),)
)


def _tier(
    so2_nox: str, other_air: str, cod_nh3n: str, other_water: str
) -> dict[RateCategory, Decimal]:
    return {
        RateCategory.SO2_NOX: _D(so2_nox),
        RateCategory.OTHER_AIR: _D(other_air),
        RateCategory.COD_NH3N: _D(cod_nh3n),
        RateCategory.OTHER_WATER: _D(other_water),
    }


HEBEI_RATES_2018: Mapping[int, Mapping[RateCategory, Decimal]] = {
    1: _tier("9.6", "4.8", "11.2", "5.6"),
    2: _tier("6.0", "4.8", "7.0", "5.6"),
    3: _tier("4.8", "4.8", "5.6", "5.6"),
}

HEBEI_RATES: EffectiveDated[Mapping[int, Mapping[RateCategory, Decimal]]] = EffectiveDated(
    "Hebei environmental protection tax rates", ((date(2018, 1, 1), HEBEI_RATES_2018),)
)


def equivalent_value(pollutant: Pollutant, day: date) -> Decimal:
    """kg per pollution equivalent of `pollutant` in force on `day`."""
    table = EQUIVALENT_VALUES.at(day)
    if pollutant not in table:
        raise UnknownTaxRate(f"no equivalent value for {pollutant.value}", field="pollutant")
    return table[pollutant]


def rate(pollutant: Pollutant, tier: int, day: date) -> Decimal:
    """CNY per equivalent for `pollutant` in Hebei tax `tier` on `day`."""
    tiers = HEBEI_RATES.at(day)
    if tier not in tiers:
        raise UnknownTaxRate(f"no Hebei tax tier {tier}", field="tier", tier=tier)
    return tiers[tier][pollutant.rate_category]
