"""Environmental Protection Tax: monthly lines per (month, outlet, pollutant) and quarterly returns.

The formula is rules.md §1.1 and §1.3; rates and equivalent values come from the month's
`RateSchedule` (`tax_tables`: the taxpayer's scheme and tier in force on the month's first day).

- equivalents = mass_kg / equivalent value: an exact `Fraction`, never rounded (rules §1.3).
- Taxed: per outlet, the 3 air pollutants with the most equivalents (rank on equivalents, not
  on tax); water: the top 5 class-1 pollutants and the top 3 others. Ties rank in the order of
  `Pollutant`'s definition (deterministic; the law is silent) **[open]**.
- Article 13 factor from ratio = monthly mean / standard (both on the standard's basis):
  0.50 if ratio < 0.5, 0.75 if ratio < 0.7, else 1.00. Thresholds are strict by default
  (exactly 0.7 gets no reduction); `TaxPolicy.inclusive_thresholds` turns them into ≤.
- No reduction (factor 1.00, reasons listed on the line) when: this outlet and pollutant had
  an hourly exceedance; another pollutant or outlet exceeded, depending on
  `TaxPolicy.scope` (default: taxpayer-wide for the month); a penalty-basis event (no networked
  CEMS, tampered data, illegal discharge) hit the outlet, or the taxpayer under the
  taxpayer-wide scope; the month's monitoring is invalid; there is no valid mean or no standard.
  For a penalty event the caller supplies the generated (not discharged) mass as `mass_kg`.
- Money: CNY as Decimal with exactly two places (fen). The only rounding is `round_fen`
  (half-up to 0.01), applied once per line to the exact tax before reduction and once to the
  exact tax due (exact before × factor); reduction = rounded before − rounded due. Totals are
  sums of rounded lines (rules §1.3 decision). `to_money` gives py-moneyed Money at the edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from math import floor

from moneyed import Money

from ledger.domain.errors import InvalidField, Kind, LedgerError
from ledger.domain.limits import HOURS_PER_MONTH_MAX, MASS_KG_MAX
from ledger.domain.monitoring import MonthlyAggregate
from ledger.domain.tax_tables import (
    Medium,
    Placement,
    Pollutant,
    RateSchedule,
    statutory_schedule,
)

CURRENCY = "CNY"
ZERO_CNY = Decimal("0.00")
FACTOR_HALF = Decimal("0.50")
FACTOR_THREE_QUARTERS = Decimal("0.75")
FACTOR_FULL = Decimal("1.00")
RATIO_HALF = Fraction(1, 2)
RATIO_SEVEN_TENTHS = Fraction(7, 10)
_POLLUTANT_ORDER = {pollutant: index for index, pollutant in enumerate(Pollutant)}


class DuplicateTaxFact(
    LedgerError,
    code="duplicate_tax_fact",
    kind=Kind.INVALID,
    title="An outlet's pollutant appears twice in one month",
):
    """The same outlet and pollutant appear twice in one month."""


class QuarterInvalid(
    LedgerError,
    code="quarter_invalid",
    kind=Kind.INVALID,
    title="A quarterly return needs the three months of one quarter of one taxpayer",
):
    """The months given do not make exactly one quarter of one taxpayer."""


class Scope(Enum):
    """How far an hourly exceedance or penalty event takes away Article 13 reductions."""

    TAXPAYER = "taxpayer"  # default: every line of the taxpayer for that month
    OUTLET = "outlet"  # every pollutant of the outlet that exceeded
    OUTLET_POLLUTANT = "outlet_pollutant"  # only the exceeding pollutant at that outlet


class Disqualification(Enum):
    """Why a line gets no Article 13 reduction although its ratio might allow one."""

    OWN_EXCEEDANCE = "hourly_exceedance"  # this outlet and pollutant
    OUTLET_EXCEEDANCE = "outlet_exceedance"  # another pollutant of this outlet
    TAXPAYER_EXCEEDANCE = "taxpayer_exceedance"  # another outlet of the taxpayer
    PENALTY_EVENT = "penalty_event"
    MONTH_INVALID = "monitoring_month_invalid"
    NO_VALID_MEAN = "no_valid_monthly_mean"
    NO_STANDARD = "no_standard"
    NOT_MEASURED = "not_measured"  # coefficients or an estimate: no measured mean (§1.3)


@dataclass(frozen=True, slots=True)
class TaxPolicy:
    """The product decisions of rules.md §1.3, with their documented defaults."""

    scope: Scope = Scope.TAXPAYER
    inclusive_thresholds: bool = False
    air_taxed: int = 3
    water_class_1_taxed: int = 5
    water_other_taxed: int = 3


DEFAULT_POLICY = TaxPolicy()


@dataclass(frozen=True, slots=True)
class PollutantMonth:
    """What the tax needs about one outlet's pollutant in one month.

    `mean_concentration` and `standard_mg` are on the standard's basis (mg/Nm³, or mg/L for
    water); None when unknown, which rules out a reduction but not the tax. `measured` is false
    for figures from coefficients or an estimate: they are taxed, never reduced (§1.3).
    """

    outlet: str
    pollutant: Pollutant
    mass_kg: Decimal
    mean_concentration: Fraction | Decimal | None = None
    standard_mg: Decimal | None = None
    exceedances: int = 0
    month_valid: bool = True
    measured: bool = True

    def __post_init__(self) -> None:
        if not self.mass_kg.is_finite() or not 0 <= self.mass_kg <= MASS_KG_MAX:
            raise InvalidField(
                f"mass_kg must be a finite amount from 0 to {MASS_KG_MAX} kg", field="mass_kg"
            )
        if self.mean_concentration is not None and not _non_negative(self.mean_concentration):
            raise InvalidField("a mean concentration must be non-negative", field="mean")
        if self.standard_mg is not None and not self.standard_mg > 0:
            raise InvalidField("a standard must be positive", field="standard_mg")
        if not 0 <= self.exceedances <= HOURS_PER_MONTH_MAX:
            raise InvalidField(
                f"exceedances are from 0 to {HOURS_PER_MONTH_MAX} (a month's hours)",
                field="exceedances",
            )

    @classmethod
    def from_aggregate(cls, aggregate: MonthlyAggregate, pollutant: Pollutant) -> PollutantMonth:
        """The tax facts of a CEMS monthly aggregate, taxed as `pollutant` (PM → soot or dust)."""
        standard = aggregate.standard
        return cls(
            outlet=aggregate.outlet,
            pollutant=pollutant,
            mass_kg=aggregate.mass_kg,
            mean_concentration=aggregate.mean_on_standard_basis,
            standard_mg=None if standard is None else standard.limit_mg_nm3,
            exceedances=aggregate.exceedances,
            month_valid=aggregate.month_valid,
        )

    @property
    def ratio(self) -> Fraction | None:
        """Monthly mean / standard, exact; None if either is missing."""
        if self.mean_concentration is None or self.standard_mg is None:
            return None
        return Fraction(self.mean_concentration) / Fraction(self.standard_mg)


def _non_negative(value: Fraction | Decimal) -> bool:
    finite = isinstance(value, Fraction) or value.is_finite()
    return finite and value >= 0


@dataclass(frozen=True, slots=True)
class PenaltyEvent:
    """A penalty-basis event in the month; `outlet` None means the whole taxpayer."""

    outlet: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One (month, outlet, pollutant) line; untaxed lines carry zero amounts."""

    month: date
    outlet: str
    pollutant: Pollutant
    mass_kg: Decimal
    equivalents: Fraction
    rank: int  # 1 = most equivalents within its group (air; water class 1; other water)
    taxed: bool
    rate: Decimal
    ratio: Fraction | None
    factor: Decimal
    disqualifications: tuple[Disqualification, ...]
    tax_before: Decimal
    tax_due: Decimal

    @property
    def reduction(self) -> Decimal:
        """Article 13 reduction: rounded tax before − rounded tax due."""
        return self.tax_before - self.tax_due


@dataclass(frozen=True, slots=True)
class MonthlyTax:
    """A taxpayer's tax lines for one month and their totals (sums of rounded lines)."""

    taxpayer: str
    month: date
    placement: Placement  # the scheme and tier whose rates the month was taxed at
    lines: tuple[TaxLine, ...]

    @property
    def total_before(self) -> Decimal:
        """Σ lines' rounded tax before reduction."""
        return sum((line.tax_before for line in self.lines), ZERO_CNY)

    @property
    def total_due(self) -> Decimal:
        """Σ lines' rounded tax due."""
        return sum((line.tax_due for line in self.lines), ZERO_CNY)

    @property
    def total_reduction(self) -> Decimal:
        """Σ lines' reductions (= total before − total due)."""
        return sum((line.reduction for line in self.lines), ZERO_CNY)

    @property
    def outlets(self) -> tuple[OutletTotal, ...]:
        """Per outlet: Σ of its rounded lines."""
        return outlet_totals(self.lines)

    def line(self, outlet: str, pollutant: Pollutant) -> TaxLine:
        """The line of `outlet` and `pollutant` (KeyError if absent)."""
        for candidate in self.lines:
            if (candidate.outlet, candidate.pollutant) == (outlet, pollutant):
                return candidate
        raise KeyError((outlet, pollutant))


@dataclass(frozen=True, slots=True)
class QuarterlyReturn:
    """The quarterly filing: Σ of the quarter's three months over outlets and taxed pollutants."""

    taxpayer: str
    year: int
    quarter: int
    months: tuple[MonthlyTax, MonthlyTax, MonthlyTax]

    @property
    def total_before(self) -> Decimal:
        """Σ months' tax before reduction."""
        return sum((month.total_before for month in self.months), ZERO_CNY)

    @property
    def total_due(self) -> Decimal:
        """Σ months' tax due: the amount to pay."""
        return sum((month.total_due for month in self.months), ZERO_CNY)

    @property
    def total_reduction(self) -> Decimal:
        """Σ months' Article 13 reductions."""
        return sum((month.total_reduction for month in self.months), ZERO_CNY)

    @property
    def outlets(self) -> tuple[OutletTotal, ...]:
        """Per outlet: Σ over the quarter of its rounded lines."""
        return outlet_totals(line for month in self.months for line in month.lines)


@dataclass(frozen=True, slots=True)
class OutletTotal:
    """An outlet's sums of rounded lines (tax before reduction and tax due)."""

    outlet: str
    tax_before: Decimal
    tax_due: Decimal

    @property
    def reduction(self) -> Decimal:
        return self.tax_before - self.tax_due


def outlet_totals(lines: Iterable[TaxLine]) -> tuple[OutletTotal, ...]:
    """Σ per outlet of `lines`, outlets in the order they first appear."""
    sums: dict[str, tuple[Decimal, Decimal]] = {}
    for line in lines:
        before, due = sums.get(line.outlet, (ZERO_CNY, ZERO_CNY))
        sums[line.outlet] = (before + line.tax_before, due + line.tax_due)
    return tuple(OutletTotal(outlet, before, due) for outlet, (before, due) in sums.items())


# -- rounding and factors --------------------------------------------------------------------


def round_fen(value: Fraction) -> Decimal:
    """The one money rounding: an exact non-negative CNY amount half-up to 0.01 (fen)."""
    if value < 0:
        raise InvalidField(f"a tax amount cannot be negative, got {value}", field="amount")
    fen = floor(value * 100 + RATIO_HALF)
    return Decimal(fen).scaleb(-2)


def to_money(amount: Decimal) -> Money:
    """A CNY amount as py-moneyed Money (for the API and journal edges)."""
    return Money(amount, CURRENCY)


def reduction_factor(ratio: Fraction, policy: TaxPolicy = DEFAULT_POLICY) -> Decimal:
    """Article 13: 0.50 below half the standard, 0.75 below 70%, else 1.00 (strict by default)."""

    def below(threshold: Fraction) -> bool:
        return ratio <= threshold if policy.inclusive_thresholds else ratio < threshold

    if below(RATIO_HALF):
        return FACTOR_HALF
    if below(RATIO_SEVEN_TENTHS):
        return FACTOR_THREE_QUARTERS
    return FACTOR_FULL


# -- monthly lines ---------------------------------------------------------------------------


def monthly_tax(
    taxpayer: str,
    month: date,
    schedule: RateSchedule | int,
    facts: Iterable[PollutantMonth],
    *,
    penalties: Iterable[PenaltyEvent] = (),
    policy: TaxPolicy = DEFAULT_POLICY,
) -> MonthlyTax:
    """The taxpayer's lines for `month` (any day of it), one per fact, in input order, at the
    rates of `schedule` (an int: that Hebei tier of the statutory tables)."""
    first_day = month.replace(day=1)
    if isinstance(schedule, int):
        schedule = statutory_schedule(schedule, first_day)
    all_facts = tuple(facts)
    _refuse_duplicates(all_facts)
    eqs = {_key(fact): equivalents(fact, schedule) for fact in all_facts}
    ranks = _ranks(all_facts, eqs)
    breaches = _Breaches.of(all_facts, tuple(penalties))
    lines = tuple(
        _line(
            fact,
            month=first_day,
            schedule=schedule,
            eqs=eqs[_key(fact)],
            rank=ranks[_key(fact)],
            breaches=breaches,
            policy=policy,
        )
        for fact in all_facts
    )
    return MonthlyTax(taxpayer, first_day, schedule.placement, lines)


def equivalents(fact: PollutantMonth, schedule: RateSchedule) -> Fraction:
    """mass_kg / the schedule's equivalent value: exact, never rounded."""
    return Fraction(fact.mass_kg) / Fraction(schedule.equivalent_value(fact.pollutant))


def _key(fact: PollutantMonth) -> tuple[str, Pollutant]:
    return fact.outlet, fact.pollutant


def _refuse_duplicates(facts: Sequence[PollutantMonth]) -> None:
    seen: set[tuple[str, Pollutant]] = set()
    for fact in facts:
        if _key(fact) in seen:
            raise DuplicateTaxFact(
                f"{fact.outlet}/{fact.pollutant.value} appears twice", field="facts"
            )
        seen.add(_key(fact))


def _group(pollutant: Pollutant) -> str:
    if pollutant.medium is Medium.AIR:
        return "air"
    return "water_class_1" if pollutant.water_class_1 else "water_other"


def _taxed_count(pollutant: Pollutant, policy: TaxPolicy) -> int:
    return {
        "air": policy.air_taxed,
        "water_class_1": policy.water_class_1_taxed,
        "water_other": policy.water_other_taxed,
    }[_group(pollutant)]


def _ranks(
    facts: Sequence[PollutantMonth], eqs: dict[tuple[str, Pollutant], Fraction]
) -> dict[tuple[str, Pollutant], int]:
    """Rank within (outlet, group) by equivalents, most first; ties in `Pollutant` order."""
    groups: dict[tuple[str, str], list[tuple[str, Pollutant]]] = {}
    for fact in facts:
        groups.setdefault((fact.outlet, _group(fact.pollutant)), []).append(_key(fact))
    ranks: dict[tuple[str, Pollutant], int] = {}
    for members in groups.values():
        ordered = sorted(members, key=lambda key: (-eqs[key], _POLLUTANT_ORDER[key[1]]))
        ranks.update({key: index for index, key in enumerate(ordered, start=1)})
    return ranks


@dataclass(frozen=True, slots=True)
class _Breaches:
    """Who breached in the month: exceeding (outlet, pollutant) pairs and penalty events."""

    exceeded: frozenset[tuple[str, Pollutant]]
    penalised_outlets: frozenset[str]
    taxpayer_penalised: bool

    @classmethod
    def of(cls, facts: Sequence[PollutantMonth], penalties: Sequence[PenaltyEvent]) -> _Breaches:
        return cls(
            exceeded=frozenset(_key(fact) for fact in facts if fact.exceedances > 0),
            penalised_outlets=frozenset(p.outlet for p in penalties if p.outlet is not None),
            taxpayer_penalised=any(p.outlet is None for p in penalties),
        )


def _disqualifications(
    fact: PollutantMonth, breaches: _Breaches, policy: TaxPolicy
) -> tuple[Disqualification, ...]:
    """Every reason this line gets no reduction, in a fixed order (empty: it may get one)."""
    outlet, scope = fact.outlet, policy.scope
    others_here = any(o == outlet and p != fact.pollutant for o, p in breaches.exceeded)
    other_outlets = any(o != outlet for o, _ in breaches.exceeded)
    penalised = breaches.taxpayer_penalised or outlet in breaches.penalised_outlets
    if scope is Scope.TAXPAYER:
        penalised = penalised or bool(breaches.penalised_outlets)
    checks = (
        (Disqualification.OWN_EXCEEDANCE, fact.exceedances > 0),
        (Disqualification.OUTLET_EXCEEDANCE, others_here and scope is not Scope.OUTLET_POLLUTANT),
        (Disqualification.TAXPAYER_EXCEEDANCE, other_outlets and scope is Scope.TAXPAYER),
        (Disqualification.PENALTY_EVENT, penalised),
        (Disqualification.MONTH_INVALID, not fact.month_valid),
        (Disqualification.NO_VALID_MEAN, fact.mean_concentration is None),
        (Disqualification.NO_STANDARD, fact.standard_mg is None),
        (Disqualification.NOT_MEASURED, not fact.measured),
    )
    return tuple(reason for reason, applies in checks if applies)


def _line(
    fact: PollutantMonth,
    *,
    month: date,
    schedule: RateSchedule,
    eqs: Fraction,
    rank: int,
    breaches: _Breaches,
    policy: TaxPolicy,
) -> TaxLine:
    unit_rate = schedule.rate(fact.pollutant)
    reasons = _disqualifications(fact, breaches, policy)
    ratio = fact.ratio
    factor = FACTOR_FULL if reasons or ratio is None else reduction_factor(ratio, policy)
    taxed = rank <= _taxed_count(fact.pollutant, policy)
    exact_before = eqs * Fraction(unit_rate) if taxed else Fraction(0)
    return TaxLine(
        month=month,
        outlet=fact.outlet,
        pollutant=fact.pollutant,
        mass_kg=fact.mass_kg,
        equivalents=eqs,
        rank=rank,
        taxed=taxed,
        rate=unit_rate,
        ratio=ratio,
        factor=factor,
        disqualifications=reasons,
        tax_before=round_fen(exact_before),
        tax_due=round_fen(exact_before * Fraction(factor)),
    )


# -- quarterly return ------------------------------------------------------------------------


def quarter_of(month: date) -> int:
    """1–4: the calendar quarter `month` falls in."""
    return (month.month - 1) // 3 + 1


def quarterly_return(months: Iterable[MonthlyTax]) -> QuarterlyReturn:
    """The quarter's return from its three monthly results, of one taxpayer, in month order.

    Refuses a missing, repeated or foreign month: a month without emissions is an empty
    `MonthlyTax`, never an absent one.
    """
    ordered = sorted(months, key=lambda m: m.month)
    if not ordered:
        raise QuarterInvalid("no months given", field="months")
    first = ordered[0]
    year, quarter = first.month.year, quarter_of(first.month)
    expected = [date(year, 3 * (quarter - 1) + offset, 1) for offset in (1, 2, 3)]
    if [m.month for m in ordered] != expected:
        found = ", ".join(f"{m.month:%Y-%m}" for m in ordered)
        raise QuarterInvalid(f"expected the 3 months of {year}Q{quarter}, got {found}")
    if any(m.taxpayer != first.taxpayer for m in ordered):
        raise QuarterInvalid("months of different taxpayers", field="taxpayer")
    return QuarterlyReturn(first.taxpayer, year, quarter, (ordered[0], ordered[1], ordered[2]))
