"""Tax incentives and verified reductions: the records, their caps and their arithmetic.

Two incentive types (rules.md §1.3–1.4, §6):

- `ARTICLE_13`: the Article 13 reduction of a filed quarterly environmental-tax return. Its
  basis is the return (cap = the return's total reduction, in fen) and rests on the verified
  reports the return was computed from.
- `EQUIPMENT_CREDIT`: 10% of a qualifying investment in catalogue environmental-protection
  equipment, credited against corporate income tax (CIT) payable; unused credit carries forward
  5 years; clawed back in full if the equipment is transferred or leased out within 5 years.

An incentive never exceeds its basis: the sum of the active (not reversed) incentives on one
basis is at most the basis's cap. The services check it, and the database refuses it again.

Verified reductions (rules.md §3): baseline − actual on the same capacity and hours basis,
only from valid months with no hourly exceedance and no penalty-basis event.

Every rounding is named here: `equipment_credit_fen` rounds down (a credit never exceeds 10%),
`reduction_kg` rounds down (a reduction is never overstated).
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from math import floor

from ledger.domain.errors import InvalidField, Kind, LedgerError

EQUIPMENT_CREDIT_RATE = Fraction(1, 10)  # 10% of the qualifying investment
CARRY_FORWARD_YEARS = 5  # unused credit may be used in the 5 following tax years
CLAWBACK_YEARS = 5  # a transfer or lease within 5 years of acquisition claws the credit back


class IncentiveNotFound(
    LedgerError, code="incentive_not_found", kind=Kind.NOT_FOUND, title="Incentive not found"
):
    """The incentive, its basis or an equipment credit named does not exist."""


class IncentiveExceedsBasis(
    LedgerError,
    code="incentive_exceeds_basis",
    kind=Kind.UNPROCESSABLE,
    title="An incentive may not exceed what its verified basis supports",
):
    """An incentive would take the incentives booked on its basis above what the basis supports."""


class IncentiveBasisVoid(
    LedgerError,
    code="incentive_basis_void",
    kind=Kind.CONFLICT,
    title="The incentive's basis rests on data that were invalidated",
):
    """An incentive is booked on a basis whose monitoring or report data were invalidated."""


class IncentiveAlreadyReversed(
    LedgerError,
    code="incentive_already_reversed",
    kind=Kind.CONFLICT,
    title="The incentive was already reversed",
):
    """An incentive is reversed again, or a clawback finds no active credit on the equipment."""


class ClawbackNotDue(
    LedgerError,
    code="clawback_not_due",
    kind=Kind.UNPROCESSABLE,
    title="The equipment was transferred after its 5-year clawback window",
):
    """A clawback names equipment transferred more than five years after it was acquired."""


class AcquiredInFuture(
    LedgerError,
    code="acquired_in_future",
    kind=Kind.UNPROCESSABLE,
    title="Equipment acquired after today",
):
    """An equipment credit names an acquisition date after today: a credit rests on an
    investment made, and one dated later could never be clawed back (a transfer before the
    acquisition is refused)."""


class NotAnEnterprise(
    LedgerError,
    code="incentive_not_for_enterprise",
    kind=Kind.UNPROCESSABLE,
    title="Tax incentives are granted to enterprises only",
):
    """An equipment credit or retrofit project names a party that is no enterprise (the
    province, a city, an exchange): only a taxpayer earns corporate income tax support."""


class IncentiveRegistered(
    LedgerError,
    code="incentive_already_registered",
    kind=Kind.CONFLICT,
    title="The same equipment or project is registered under another id",
):
    """An equipment credit or retrofit project names what the enterprise already registered
    under another id (the same party and description): registering it anew would grant the
    credit twice or restart the exemption."""


def same_thing_key(party: str, description: str) -> tuple[str, str]:
    """What identifies equipment or a project: its party and its description, compared without
    case or runs of spaces (the description names it: model and serial, or name and permit)."""
    return party, " ".join(description.split()).casefold()


class ReductionNotVerifiable(
    LedgerError,
    code="reduction_not_verifiable",
    kind=Kind.UNPROCESSABLE,
    title="A verified reduction needs valid months without exceedance or penalty event",
):
    """A reduction claim's months are not all valid, or have an exceedance or a penalty event."""


class ReductionBaselineUnknown(
    LedgerError,
    code="reduction_baseline_unknown",
    kind=Kind.UNPROCESSABLE,
    title="No baseline can be derived for this reduction",
):
    """Neither a confirmed entitlement nor 12 valid months of CEMS data give a baseline."""


class ReductionExists(
    LedgerError,
    code="reduction_exists",
    kind=Kind.CONFLICT,
    title="The report already has a verified reduction of this pollutant",
):
    """A second verified reduction is asked for the same report and pollutant."""


class IncentiveKind(StrEnum):
    ARTICLE_13 = "article13_reduction"
    EQUIPMENT_CREDIT = "equipment_credit"


class ReversalReason(StrEnum):
    REPORT_INVALIDATED = "report_invalidated"
    REPORT_CORRECTED = "report_corrected"  # the report was superseded by a verified correction
    CLAWBACK = "clawback"


@dataclass(frozen=True, slots=True)
class IncentiveBasis:
    """What supports incentives: at most `cap_fen` in total may rest on it."""

    id: str
    kind: IncentiveKind
    party: str
    cap_fen: int
    report_ids: tuple[str, ...] = ()
    return_id: str | None = None
    equipment_id: str | None = None
    acquired_on: date | None = None
    void: bool = False

    def __post_init__(self) -> None:
        if self.cap_fen < 0:
            raise InvalidField("a basis cannot support a negative amount", field="cap")


@dataclass(frozen=True, slots=True)
class Reversal:
    """Why and when an incentive was reversed, and the journal entry that did it."""

    reason: ReversalReason
    entry_id: str
    at: datetime
    detail: str = ""
    report_id: str | None = None


@dataclass(frozen=True, slots=True)
class Incentive:
    """An incentive booked in the ledger on a basis; `reversal` set once it was reversed."""

    id: str
    basis_id: str
    kind: IncentiveKind
    party: str
    amount_fen: int
    basis_fen: int
    entry_id: str
    booked_at: datetime
    report_ids: tuple[str, ...] = ()
    reversal: Reversal | None = None

    @property
    def active(self) -> bool:
        return self.reversal is None


def check_within_basis(basis: IncentiveBasis, active_fen: int, amount_fen: int) -> None:
    """Refuse an incentive that would take the basis's active total above its cap."""
    if basis.void:
        raise IncentiveBasisVoid(f"basis {basis.id} rests on invalidated data", field="basis")
    if amount_fen <= 0:
        raise InvalidField("an incentive is a positive amount", field="amount")
    if active_fen + amount_fen > basis.cap_fen:
        raise IncentiveExceedsBasis(
            f"basis {basis.id} supports {_cny(basis.cap_fen)}; {_cny(active_fen)} is booked "
            f"already, {_cny(amount_fen)} more would exceed it",
            field="amount",
        )


def _cny(fen: int) -> str:
    """An amount as an error names it: in CNY with its 2 places, never in raw fen."""
    return f"{Decimal(fen).scaleb(-2)} CNY"


# -- the CIT equipment credit -----------------------------------------------------------------


def equipment_credit_fen(investment_fen: int) -> int:
    """10% of the qualifying investment, rounded down to the fen (never above 10%)."""
    if investment_fen <= 0:
        raise InvalidField("the qualifying investment must be positive", field="investment")
    return floor(investment_fen * EQUIPMENT_CREDIT_RATE)


def clawback_due(acquired_on: date, transferred_on: date) -> bool:
    """A transfer (or lease) before the 5th anniversary of acquisition claws the credit back."""
    if transferred_on < acquired_on:
        raise InvalidField("the equipment was transferred before it was acquired", field="on")
    anniversary = _add_years(acquired_on, CLAWBACK_YEARS)
    return transferred_on < anniversary


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February → 28 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True, slots=True)
class CreditYear:
    """One tax year of an enterprise's equipment credits: used against CIT, lapsed, left."""

    year: int
    cit_payable_fen: int
    used_fen: int
    lapsed_fen: int
    left_fen: int


def carry_forward(
    credits: Sequence[tuple[int, int]], cit_payable: Sequence[tuple[int, int]]
) -> list[CreditYear]:
    """Use credits (earned year, fen) against CIT payable (year, fen), oldest credit first.

    A credit earned in year Y may be used in Y and the 5 following years; what is left after
    Y + 5 lapses. Years are processed in order; each year uses at most its CIT payable.
    """
    remaining = sorted([year, fen] for year, fen in credits)
    schedule = []
    for year, payable in sorted(cit_payable):
        lapsed = sum(fen for earned, fen in remaining if earned + CARRY_FORWARD_YEARS < year)
        remaining = [c for c in remaining if c[0] + CARRY_FORWARD_YEARS >= year]
        budget = payable
        for credit in remaining:
            if credit[0] <= year:
                take = min(credit[1], budget)
                credit[1] -= take
                budget -= take
        left = sum(fen for earned, fen in remaining if earned <= year)
        schedule.append(CreditYear(year, payable, payable - budget, lapsed, left))
    return schedule


# -- verified reductions (rules §3) ------------------------------------------------------------


class BaselineKind(StrEnum):
    PRIOR_ENTITLEMENT = "prior_entitlement"
    CEMS_BASELINE = "cems_baseline"  # 12 months of pre-retrofit CEMS data


BASELINE_MONTHS = 12  # the CEMS baseline: the 12 months before the retrofit


@dataclass(frozen=True, slots=True)
class Baseline:
    """A candidate baseline: `kg` emitted (or allowed) over `hours` calendar hours."""

    kind: BaselineKind
    kg: Decimal
    hours: int

    @property
    def per_hour(self) -> Fraction:
        return Fraction(self.kg) / self.hours


def calendar_hours(months: Sequence[date]) -> int:
    """The hours of the months named by their first days."""
    return sum(24 * monthrange(month.year, month.month)[1] for month in months)


def months_before(month: date, count: int = BASELINE_MONTHS) -> tuple[date, ...]:
    """The first days of the `count` months before `month`, oldest first."""
    index = month.year * 12 + month.month - 1
    return tuple(date(i // 12, i % 12 + 1, 1) for i in range(index - count, index))


def lower_baseline(candidates: Sequence[Baseline]) -> Baseline:
    """The lower of the candidates per calendar hour (rules §7.8: whichever is lower)."""
    if not candidates:
        raise ReductionBaselineUnknown(
            "no confirmed entitlement and no 12 valid months of CEMS data before the retrofit",
            field="report_id",
        )
    return min(candidates, key=lambda baseline: baseline.per_hour)


@dataclass(frozen=True, slots=True)
class ReductionClaim:
    """Baseline and actual emissions of one enterprise's pollutant for one period.

    Hours put both on the same basis: the baseline is scaled by actual / baseline operating
    hours (the same capacity is assumed; a capacity change needs a new baseline).
    """

    party: str
    pollutant: str
    year: int
    baseline_kind: BaselineKind
    baseline_kg: Decimal
    baseline_hours: int
    actual_kg: Decimal
    actual_hours: int
    months_invalid: int = 0
    exceedances: int = 0
    penalty_events: int = 0


def reduction_kg(claim: ReductionClaim) -> int:
    """baseline × actual hours / baseline hours − actual, rounded down to the kg; refuses a
    claim resting on invalid months, an hourly exceedance or a penalty-basis event."""
    problems = [
        f"{count} {what}"
        for count, what in (
            (claim.months_invalid, "invalid month(s)"),
            (claim.exceedances, "hourly exceedance(s)"),
            (claim.penalty_events, "penalty-basis event(s)"),
        )
        if count
    ]
    if problems:
        raise ReductionNotVerifiable(", ".join(problems), field="report")
    if claim.baseline_hours <= 0 or claim.actual_hours < 0:
        raise InvalidField("operating hours must be positive", field="hours")
    if claim.baseline_kg < 0 or claim.actual_kg < 0:
        raise InvalidField("emissions cannot be negative", field="kg")
    scaled = Fraction(claim.baseline_kg) * claim.actual_hours / claim.baseline_hours
    return max(floor(scaled - Fraction(claim.actual_kg)), 0)


class Release(StrEnum):
    """What a verified reduction does with the surplus rights it frees (a policy setting)."""

    RESERVE = "reserve"  # reclaimed free into the government reserve (the default)
    TRADABLE = "tradable"  # left in the enterprise's holdings, free to sell
    NONE = "none"  # recorded only


@dataclass(frozen=True, slots=True)
class VerifiedReduction:
    """A verified reduction and what was released: `released_units` are kg (t, scale 3)."""

    id: str
    claim: ReductionClaim
    report_id: str | None
    reduction_kg: int
    released_units: int
    release: Release
    entry_id: str | None
    created_at: datetime
    retrofit_month: date | None = None
    reversal: ReductionReversal | None = None

    @property
    def active(self) -> bool:
        return self.reversal is None


@dataclass(frozen=True, slots=True)
class ReductionReversal:
    """A verified reduction reversed with its report (rules §7.8): the surplus it had reclaimed
    into a reserve went back to the enterprise as far as the reserve still held it
    (`restored_units`); the rest (`unrestored_units`) the enterprise covers itself."""

    reason: ReversalReason
    report_id: str
    entry_id: str | None
    restored_units: int
    unrestored_units: int
    at: datetime
    detail: str = ""
