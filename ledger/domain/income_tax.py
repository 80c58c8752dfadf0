"""Corporate income tax (CIT) support of rules §1.4, booked year by year: the equipment credit's
use against CIT payable and its lapse after the carry-forward, and the 3+3-year exemption of the
income of a qualifying environmental-protection / emission-reduction retrofit project.

Pure: no I/O. Every rounding is named here: an exemption rounds down to the fen (an incentive
never exceeds what the law grants).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import floor

from ledger.domain.errors import InvalidField, Kind, LedgerError
from ledger.domain.incentives import CARRY_FORWARD_YEARS

USE, LAPSE = "use", "lapse"
CIT_RATE = Fraction(25, 100)  # the standard CIT rate the exempt income would have borne
EXEMPT_YEARS, HALF_YEARS = 3, 3  # years 1-3 exempt, years 4-6 taxed at half


class CreditYearOutOfOrder(
    LedgerError,
    code="credit_year_out_of_order",
    kind=Kind.CONFLICT,
    title="Equipment-credit years are booked in order",
):
    """A tax year's use of the equipment credit is booked after a later year was booked: the
    credit is used oldest first, year after year, so an earlier year cannot come afterwards."""


class TaxYearInFuture(
    LedgerError,
    code="tax_year_in_future",
    kind=Kind.UNPROCESSABLE,
    title="A tax year after the current one",
):
    """A tax year (an equipment credit's, a retrofit project's income or first revenue year) is
    after the current year: its figures cannot be known yet, and a credit year booked ahead
    would lock out every earlier year (they are booked in order)."""


def check_tax_year(year: int, current: int, field: str) -> int:
    """`year`, unless it comes after `current` (`TaxYearInFuture` naming `field`)."""
    if year > current:
        raise TaxYearInFuture(f"{field} {year} is after the current year {current}", field=field)
    return year


class ProjectYearNotExempt(
    LedgerError,
    code="project_year_not_exempt",
    kind=Kind.UNPROCESSABLE,
    title="The year lies outside the project's 6-year exemption",
):
    """A retrofit project's income is booked for a year before its first revenue year or after
    its sixth: no exemption applies."""


# -- the equipment credit's carry-forward, booked -------------------------------------------


@dataclass(frozen=True, slots=True)
class CreditMove:
    """Part of one equipment credit (incentive `incentive_id`) used or lapsed in a tax year."""

    incentive_id: str
    kind: str  # USE or LAPSE
    amount_fen: int


@dataclass(frozen=True, slots=True)
class CreditYearRecord:
    """An enterprise's tax year: its CIT payable and what its equipment credits did in it."""

    party: str
    year: int
    cit_payable_fen: int
    moves: tuple[CreditMove, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.party}-{self.year}"

    @property
    def used_fen(self) -> int:
        return sum(m.amount_fen for m in self.moves if m.kind == USE)

    @property
    def lapsed_fen(self) -> int:
        return sum(m.amount_fen for m in self.moves if m.kind == LAPSE)


@dataclass(frozen=True, slots=True)
class CreditLeft:
    """What is left of one active credit: earned in `earned_year`."""

    incentive_id: str
    earned_year: int
    left_fen: int


def settle_year(
    credits: Sequence[CreditLeft], year: int, cit_payable_fen: int
) -> tuple[CreditMove, ...]:
    """The moves of a tax year, as `incentives.carry_forward` computes them: what is left of a
    credit earned more than 5 years before lapses; then the credits usable this year are used
    against the CIT payable, oldest first, each year at most its CIT payable."""
    if cit_payable_fen < 0:
        raise InvalidField("CIT payable cannot be negative", field="cit_payable")
    moves, budget = [], cit_payable_fen
    for credit in sorted(credits, key=lambda c: (c.earned_year, c.incentive_id)):
        if credit.left_fen <= 0 or credit.earned_year > year:
            continue
        if credit.earned_year + CARRY_FORWARD_YEARS < year:
            moves.append(CreditMove(credit.incentive_id, LAPSE, credit.left_fen))
            continue
        take = min(credit.left_fen, budget)
        if take:
            moves.append(CreditMove(credit.incentive_id, USE, take))
            budget -= take
    return tuple(moves)


# -- the 3+3-year exemption of a retrofit project's income ----------------------------------


@dataclass(frozen=True, slots=True)
class RetrofitProject:
    """A qualifying environmental-protection / emission-reduction retrofit project whose income
    is exempt from CIT in its first 3 revenue years and taxed at half in the next 3."""

    id: str
    party: str
    first_revenue_year: int
    description: str = ""

    def share(self, year: int) -> Fraction:
        """The share of the year's CIT on the project's income that is exempted."""
        nth = year - self.first_revenue_year + 1
        if 1 <= nth <= EXEMPT_YEARS:
            return Fraction(1)
        if EXEMPT_YEARS < nth <= EXEMPT_YEARS + HALF_YEARS:
            return Fraction(1, 2)
        return Fraction(0)

    def schedule(self) -> list[tuple[int, Fraction]]:
        """Each year of the exemption and its share: 1, 1, 1, ½, ½, ½."""
        first = self.first_revenue_year
        return [(y, self.share(y)) for y in range(first, first + EXEMPT_YEARS + HALF_YEARS)]


@dataclass(frozen=True, slots=True)
class ProjectYear:
    """A retrofit project's income of a year and the CIT it is exempted from."""

    project_id: str
    year: int
    income_fen: int
    exempt_fen: int


def exemption_fen(project: RetrofitProject, year: int, income_fen: int) -> int:
    """income × CIT rate × the year's share, rounded down to the fen."""
    if income_fen < 0:
        raise InvalidField("the project's income cannot be negative", field="income")
    share = project.share(year)
    if share == 0:
        raise ProjectYearNotExempt(
            f"{year} is not one of project {project.id}'s exemption years "
            f"({project.first_revenue_year}-{project.first_revenue_year + 5})",
            field="year",
        )
    return floor(income_fen * CIT_RATE * share)
