"""Environmental Protection Tax constants as effective-dated data (rules.md §1.2, §7.6).

Pollution equivalent values (kg per equivalent), rates (CNY per equivalent, by scheme, tier and
rate category) and the tier each city or county belongs to change over time. In the ledger they
are data: `TableEntry` rows, each valid from the first day of a month, kept in the database
(seeded by migration 0019, changed by an administrator with four eyes: `services.tax_tables`).
`TaxTables` answers, for a place and a day, the `RateSchedule` in force: the place's scheme and
tier (the most specific membership: the county's, else its city's; none: the national minimum)
with that tier's rates and the equivalent values. Entries are never changed: a later
`valid_from` supersedes, and for the same `valid_from` the later recorded entry supersedes (a
correction), so the history stays readable.

The statutory 2018 tables below are what migration 0019 seeds; the pure domain (the demo's
annual report, unit tests) computes with them directly through `statutory_schedule`.
Everything is an exact Decimal written as a string literal; nothing here rounds.

Class-1 water pollutants (第一类水污染物) and their equivalent values come from annex 2 of
the Environmental Protection Tax Law as reprinted by tax bureaus **[secondary: not in
rules.md, confirm before go-live]**. Only the water pollutants of rules.md §1.2 are in the
"other water" list; `FLUORIDE` is the air pollutant (0.87; water fluoride, 0.5, is not here),
and BOD5/TOC (taxed only as one with COD) are not modelled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Generic, TypeVar

from ledger.domain.bounds import check_text, check_year
from ledger.domain.errors import InvalidField, Kind, LedgerError

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
    """kg per pollution equivalent of `pollutant` in force on `day` (statutory 2018 table)."""
    table = EQUIVALENT_VALUES.at(day)
    if pollutant not in table:
        raise UnknownTaxRate(f"no equivalent value for {pollutant.value}", field="pollutant")
    return table[pollutant]


def rate(pollutant: Pollutant, tier: int, day: date) -> Decimal:
    """CNY per equivalent for `pollutant` in Hebei tax `tier` on `day` (statutory 2018 table)."""
    tiers = HEBEI_RATES.at(day)
    if tier not in tiers:
        raise UnknownTaxRate(f"no Hebei tax tier {tier}", field="tier", tier=tier)
    return tiers[tier][pollutant.rate_category]


# -- the tables as data (rules.md §7.6) --------------------------------------------------------

NATIONAL = "national"  # the scheme wherever no provincial scheme covers the place
NATIONAL_TIER = "minimum"  # its one tier
HEBEI = "hebei"
# The national ranges a rate must lie in (rules.md §1.2 [secondary]): air 1.2–12, water 1.4–14.
RATE_RANGES: Mapping[Medium, tuple[Decimal, Decimal]] = {
    Medium.AIR: (_D("1.2"), _D("12")),
    Medium.WATER: (_D("1.4"), _D("14")),
}
CATEGORY_MEDIUM: Mapping[RateCategory, Medium] = {
    RateCategory.SO2_NOX: Medium.AIR,
    RateCategory.OTHER_AIR: Medium.AIR,
    RateCategory.COD_NH3N: Medium.WATER,
    RateCategory.OTHER_WATER: Medium.WATER,
}
EQUIVALENT_MAX_KG = _D(1000)
EQUIVALENT_PLACES_MAX = 10  # benzo(a)pyrene is 0.0000003 kg
RATE_PLACES_MAX = 4
_SCHEME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_TIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")
PLACE_LENGTH_MAX = 64  # a party's city and county columns


class TierWithoutRates(
    LedgerError,
    code="tax_tier_without_rates",
    kind=Kind.UNPROCESSABLE,
    title="A place is put in a tier that has no rates in force",
):
    """A membership names a scheme and tier without a rate for every category on its date."""


class TableKind(StrEnum):
    """What a table entry sets."""

    RATE = "rate"
    EQUIVALENT = "equivalent"
    MEMBERSHIP = "membership"


@dataclass(frozen=True, slots=True)
class Rate:
    """CNY per equivalent of one rate category in one tier of a scheme."""

    scheme: str
    tier: str
    category: RateCategory
    cny_per_equivalent: Decimal


@dataclass(frozen=True, slots=True)
class EquivalentValue:
    """kg of a pollutant that make one pollution equivalent."""

    pollutant: Pollutant
    kg_per_equivalent: Decimal


@dataclass(frozen=True, slots=True)
class Membership:
    """A city (county "") or a county of it belongs to a tier of a scheme."""

    city: str
    county: str
    scheme: str
    tier: str


TableValue = Rate | EquivalentValue | Membership


def kind_of(value: TableValue) -> TableKind:
    if isinstance(value, Rate):
        return TableKind.RATE
    if isinstance(value, EquivalentValue):
        return TableKind.EQUIVALENT
    return TableKind.MEMBERSHIP


def subject(value: TableValue) -> tuple[str, ...]:
    """What an entry versions: later entries of the same subject supersede it."""
    if isinstance(value, Rate):
        return (TableKind.RATE, value.scheme, value.tier, value.category.value)
    if isinstance(value, EquivalentValue):
        return (TableKind.EQUIVALENT, value.pollutant.value)
    return (TableKind.MEMBERSHIP, value.city, value.county)


@dataclass(frozen=True, slots=True)
class TableEntry:
    """One effective-dated row of the tax tables, as recorded (never changed afterwards)."""

    id: str
    valid_from: date
    value: TableValue
    recorded_by: str
    recorded_at: datetime | None = None

    @property
    def kind(self) -> TableKind:
        return kind_of(self.value)

    def same_definition(self, other: TableEntry) -> bool:
        """Whether `other` asks for exactly this entry (a retry)."""
        return (self.id, self.valid_from, self.value) == (other.id, other.valid_from, other.value)


@dataclass(frozen=True, slots=True)
class Placement:
    """The scheme and tier that apply to a place in a month."""

    scheme: str
    tier: str

    def __str__(self) -> str:
        return f"{self.scheme}/{self.tier}"


NATIONAL_MINIMUM = Placement(NATIONAL, NATIONAL_TIER)


@dataclass(frozen=True, slots=True)
class RateSchedule:
    """What a month's tax of one taxpayer is computed with: its placement, that tier's rates
    and the equivalent values in force."""

    placement: Placement
    rates: Mapping[RateCategory, Decimal]
    equivalents: Mapping[Pollutant, Decimal]

    def rate(self, pollutant: Pollutant) -> Decimal:
        """CNY per equivalent of `pollutant`."""
        found = self.rates.get(pollutant.rate_category)
        if found is None:
            raise UnknownTaxRate(
                f"no {pollutant.rate_category.value} rate in {self.placement}", field="tier"
            )
        return found

    def equivalent_value(self, pollutant: Pollutant) -> Decimal:
        """kg per pollution equivalent of `pollutant`."""
        found = self.equivalents.get(pollutant)
        if found is None:
            raise UnknownTaxRate(f"no equivalent value for {pollutant.value}", field="pollutant")
        return found


@dataclass(frozen=True, slots=True)
class TaxTables:
    """Every entry of the tax tables, in recording order."""

    entries: tuple[TableEntry, ...]

    def in_force(self, day: date) -> list[TableValue]:
        """Per subject, the entry with the latest `valid_from` on or before `day` (of those,
        the last recorded)."""
        chosen: dict[tuple[str, ...], TableEntry] = {}
        for entry in self.entries:
            if entry.valid_from > day:
                continue
            key = subject(entry.value)
            current = chosen.get(key)
            if current is None or entry.valid_from >= current.valid_from:
                chosen[key] = entry
        return [entry.value for entry in chosen.values()]

    def placement(self, city: str, county: str, day: date) -> Placement:
        """The county's membership, else its city's; with neither, the national minimum."""
        memberships = {
            (v.city, v.county): v for v in self.in_force(day) if isinstance(v, Membership)
        }
        found = memberships.get((city, county)) if county else None
        found = found or memberships.get((city, ""))
        return NATIONAL_MINIMUM if found is None else Placement(found.scheme, found.tier)

    def schedule(self, placement: Placement, day: date) -> RateSchedule:
        """The rates of `placement` and the equivalent values in force on `day`."""
        values = self.in_force(day)
        rates = {
            v.category: v.cny_per_equivalent
            for v in values
            if isinstance(v, Rate) and Placement(v.scheme, v.tier) == placement
        }
        if not rates and not any(isinstance(v, EquivalentValue) for v in values):
            raise NoTableInForce(f"no tax table in force on {day.isoformat()}", day=day)
        equivalents = {
            v.pollutant: v.kg_per_equivalent for v in values if isinstance(v, EquivalentValue)
        }
        return RateSchedule(placement, rates, equivalents)

    def schedule_for(self, city: str, county: str, day: date) -> RateSchedule:
        """The schedule of the place (a party's city and county) on `day`."""
        return self.schedule(self.placement(city, county, day), day)


# -- checking an entry -------------------------------------------------------------------------


def check_entry(entry: TableEntry, tables: TaxTables) -> None:
    """Refuse an entry the tables cannot hold (`field` names what is wrong)."""
    if entry.valid_from.day != 1:
        raise InvalidField(
            "a tax table entry is valid from the first day of a month (tax is monthly)",
            field="valid_from",
        )
    check_year(entry.valid_from.year, "valid_from")
    value = entry.value
    if isinstance(value, Rate):
        _check_rate(value)
    elif isinstance(value, EquivalentValue):
        _check_amount(value.kg_per_equivalent, EQUIVALENT_PLACES_MAX, "kg_per_equivalent")
        if value.kg_per_equivalent > EQUIVALENT_MAX_KG:
            raise InvalidField(f"at most {EQUIVALENT_MAX_KG} kg", field="kg_per_equivalent")
    else:
        _check_membership(value, entry.valid_from, tables)


def _check_names(scheme: str, tier: str) -> None:
    if not _SCHEME.match(scheme):
        raise InvalidField("a scheme is a lower-case name like 'hebei'", field="scheme")
    if not _TIER.match(tier):
        raise InvalidField("a tier is a short name like '1' or 'minimum'", field="tier")
    if scheme == NATIONAL and tier != NATIONAL_TIER:
        raise InvalidField(f"the national scheme has one tier, {NATIONAL_TIER!r}", field="tier")


def _check_rate(value: Rate) -> None:
    _check_names(value.scheme, value.tier)
    _check_amount(value.cny_per_equivalent, RATE_PLACES_MAX, "cny_per_equivalent")
    low, high = RATE_RANGES[CATEGORY_MEDIUM[value.category]]
    if not low <= value.cny_per_equivalent <= high:
        raise InvalidField(
            f"a {value.category.value} rate lies in the national range {low}–{high} CNY",
            field="cny_per_equivalent",
        )


def _check_amount(amount: Decimal, places: int, field: str) -> None:
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or amount <= 0 or not isinstance(exponent, int):
        raise InvalidField(f"{field} must be a positive amount", field=field)
    if -exponent > places:
        raise InvalidField(f"{field} has at most {places} decimal places", field=field)


def _check_membership(value: Membership, valid_from: date, tables: TaxTables) -> None:
    _check_names(value.scheme, value.tier)
    for name, text in (("city", value.city), ("county", value.county)):
        check_text(text, name)
        if len(text) > PLACE_LENGTH_MAX or text != text.strip():
            raise InvalidField(
                f"a {name} is at most {PLACE_LENGTH_MAX} trimmed characters", field=name
            )
    if not value.city:
        raise InvalidField("a membership names a city", field="city")
    placement = Placement(value.scheme, value.tier)
    rates = tables.schedule(placement, valid_from).rates
    missing = [c.value for c in RateCategory if c not in rates]
    if missing:
        raise TierWithoutRates(
            f"{placement} has no {', '.join(missing)} rate in force on {valid_from}",
            field="tier",
        )


# -- the statutory 2018 tables (what migration 0019 seeds) ------------------------------------

STATUTORY_FROM = date(2018, 1, 1)
# Hebei's tier membership (rules.md §1.2 [secondary]): the prefecture-level cities and the
# county-level cities administered by the province; tier 1 is Xiong'an and the counties the
# rules name as examples. The rest of the 13 + 12 tier-1 counties are for an administrator
# to add (docs/domain/tax.md).
HEBEI_CITY_TIERS: Mapping[str, str] = {
    "Xiong'an": "1",
    "Shijiazhuang": "2",
    "Baoding": "2",
    "Langfang": "2",
    "Dingzhou": "2",
    "Xinji": "2",
    **dict.fromkeys(
        (
            "Tangshan",
            "Qinhuangdao",
            "Handan",
            "Xingtai",
            "Zhangjiakou",
            "Chengde",
            "Cangzhou",
            "Hengshui",
        ),
        "3",
    ),
}
HEBEI_TIER_1_COUNTIES: tuple[tuple[str, str], ...] = (
    ("Langfang", "Sanhe"),
    ("Langfang", "Gu'an"),
    ("Langfang", "Bazhou"),
    ("Baoding", "Zhuozhou"),
    ("Cangzhou", "Renqiu"),
    ("Baoding", "Xiongxian"),
    ("Baoding", "Rongcheng"),
    ("Baoding", "Anxin"),
)
NATIONAL_MINIMUM_RATES: Mapping[RateCategory, Decimal] = _tier("1.2", "1.2", "1.4", "1.4")


def statutory_values() -> list[TableValue]:
    """The 2018 tables as entry values: equivalents, national minimum, Hebei's scheme."""
    values: list[TableValue] = [EquivalentValue(p, kg) for p, kg in EQUIVALENT_VALUES_2018.items()]
    values += [Rate(NATIONAL, NATIONAL_TIER, c, r) for c, r in NATIONAL_MINIMUM_RATES.items()]
    values += [
        Rate(HEBEI, str(tier), c, r)
        for tier, rates in HEBEI_RATES_2018.items()
        for c, r in rates.items()
    ]
    values += [Membership(city, "", HEBEI, tier) for city, tier in HEBEI_CITY_TIERS.items()]
    values += [Membership(city, county, HEBEI, "1") for city, county in HEBEI_TIER_1_COUNTIES]
    return values


def entry_id(value: TableValue, valid_from: date) -> str:
    """A readable id for a seeded entry: 'rate-hebei-1-so2_nox-2018-01-01'."""
    parts = [str(part) for part in subject(value)]
    text = "-".join([*parts, valid_from.isoformat()])
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:64]


def statutory_tables(recorded_by: str = "statute") -> TaxTables:
    """The 2018 tables as `TaxTables` (what a freshly migrated database holds)."""
    return TaxTables(
        tuple(
            TableEntry(entry_id(v, STATUTORY_FROM), STATUTORY_FROM, v, recorded_by)
            for v in statutory_values()
        )
    )


def statutory_schedule(tier: int, day: date) -> RateSchedule:
    """Hebei `tier`'s schedule on `day` from the statutory tables (pure-domain callers)."""
    if tier not in HEBEI_RATES.at(day):
        raise UnknownTaxRate(f"no Hebei tax tier {tier}", field="tier", tier=tier)
    return statutory_tables().schedule(Placement(HEBEI, str(tier)), day)


# -- a change as a four-eyes payload ------------------------------------------------------------


def entry_payload(entry_id: str, valid_from: date, value: TableValue) -> dict[str, str]:
    """The JSON a four-eyes request stores for a table entry (every value as text)."""
    fields: dict[str, str] = {"id": entry_id, "valid_from": valid_from.isoformat()}
    fields["kind"] = kind_of(value).value
    if isinstance(value, Rate):
        fields |= {"scheme": value.scheme, "tier": value.tier, "category": value.category.value}
        fields["cny_per_equivalent"] = str(value.cny_per_equivalent)
    elif isinstance(value, EquivalentValue):
        fields["pollutant"] = value.pollutant.value
        fields["kg_per_equivalent"] = str(value.kg_per_equivalent)
    else:
        fields |= {"city": value.city, "county": value.county}
        fields |= {"scheme": value.scheme, "tier": value.tier}
    return fields


def value_from_payload(payload: Mapping[str, str]) -> TableValue:
    """The entry's value back from `entry_payload`'s JSON."""
    kind = TableKind(payload["kind"])
    if kind is TableKind.RATE:
        return Rate(
            payload["scheme"],
            payload["tier"],
            RateCategory(payload["category"]),
            Decimal(payload["cny_per_equivalent"]),
        )
    if kind is TableKind.EQUIVALENT:
        return EquivalentValue(
            Pollutant(payload["pollutant"]), Decimal(payload["kg_per_equivalent"])
        )
    return Membership(payload["city"], payload["county"], payload["scheme"], payload["tier"])
