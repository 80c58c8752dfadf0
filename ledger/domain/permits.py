"""Outlet permits: what a regulator states about an outlet, effective-dated (rules.md §7.4).

A permit holds, for one outlet from one month on, the hourly emission standards per measured
pollutant (mg/Nm³, dry), the reference O2 the standards are expressed at, the design removal
efficiency η per measured pollutant (for the generated amount of the penalty basis, §7.3) and
whether the outlet must have networked CEMS. The enterprise states none of it: a report line
takes its standard from the permit in force for its month, never from what the line says.

- A permit takes effect on the first day of a month (tax lines are monthly) and stays in force
  until the next permit of the outlet takes effect. **Decision:** one permit per outlet and
  effective month; a permit is never edited: the same permit again is a replay, another one for
  the same month is refused (state the correction as a permit from a later month).
- A permit that would *lower tax* against the permit in force before it needs a second
  regulator (four-eyes operation `permit`): a standard raised, added or removed (a pollutant
  without a standard has no exceedances, which would void other reductions), the reference O2
  changed, a removal efficiency lowered or removed, or the CEMS obligation lifted. A first
  permit is compared with no permit at all (no standard: no Article 13 reduction), so any first
  permit with a standard needs four eyes too. `relaxations` names every such change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from ledger.domain.bounds import check_date
from ledger.domain.cems import VALUE_MAX
from ledger.domain.errors import InvalidField, Kind, LedgerError
from ledger.domain.monitoring import O2_AMBIENT, EmissionStandard
from ledger.domain.tax_tables import Pollutant

PARTICULATES = frozenset({Pollutant.SOOT, Pollutant.GENERAL_DUST})  # measured as PM

PERMIT_FOUR_EYES = "permit"  # the four-eyes operation of a permit that lowers tax
REFERENCE_LENGTH_MAX = 64
_PLACES_MAX = 6  # decimal places a limit, O2 or efficiency may have (the column keeps text)
# A standard is below what a CEMS reading may be (far above any real stack): its text then fits
# the standard's column of the monthly aggregates and report lines it is copied to (16).
STANDARD_MAX = VALUE_MAX["concentration_mg_nm3"]


class PermitNotFound(
    LedgerError, code="permit_not_found", kind=Kind.NOT_FOUND, title="Permit not found"
):
    """The outlet has no permit (in force) where one is needed, or it is not one the caller sees."""


@dataclass(frozen=True, slots=True)
class Permit:
    """An outlet's permit from `effective_from` (first day of a month) on.

    `standards` and `removal_efficiencies` are keyed by measured pollutant ('SO2', 'NOx', 'PM');
    an efficiency is a fraction in [0, 1) (0.95 removes 95 %). `particulate` is what the outlet's
    measured PM is taxed as (rules §1.2): soot (combustion flue gas, the default) or general
    dust. `reference` is the permit document's number. `set_by` / `set_at` are filled when it
    is stored.
    """

    party: str
    outlet: str
    effective_from: date
    standards: Mapping[str, Decimal] = field(default_factory=dict)
    reference_o2: Decimal | None = None
    removal_efficiencies: Mapping[str, Decimal] = field(default_factory=dict)
    cems_required: bool = False
    reference: str = ""
    particulate: Pollutant = Pollutant.SOOT
    set_by: str = ""
    set_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.effective_from.day != 1:
            raise InvalidField(
                "a permit takes effect on the first of a month", field="effective_from"
            )
        check_date(self.effective_from, "effective_from")
        for pollutant, limit in self.standards.items():
            _check_number(
                limit, f"standards.{pollutant}", low=Decimal(0), high=STANDARD_MAX, open_low=True
            )
        for pollutant, eta in self.removal_efficiencies.items():
            _check_number(eta, f"removal_efficiencies.{pollutant}", low=Decimal(0), high=Decimal(1))
        if self.reference_o2 is not None:
            _check_number(self.reference_o2, "reference_o2", low=Decimal(0), high=O2_AMBIENT)
        if self.particulate not in PARTICULATES:
            raise InvalidField(
                "measured PM is taxed as soot or general_dust", field="particulate_as"
            )
        if len(self.reference) > REFERENCE_LENGTH_MAX:
            raise InvalidField("a permit reference is at most 64 characters", field="reference")

    def definition(self) -> Permit:
        """The permit without who stored it and when (what a retry must repeat)."""
        return Permit(
            self.party,
            self.outlet,
            self.effective_from,
            dict(self.standards),
            self.reference_o2,
            dict(self.removal_efficiencies),
            self.cems_required,
            self.reference,
            self.particulate,
        )

    def standard(self, pollutant: str) -> EmissionStandard | None:
        """The hourly limit of a measured pollutant (O2-corrected where the permit says so)."""
        limit = self.standards.get(pollutant)
        return None if limit is None else EmissionStandard(limit, self.reference_o2)


def _check_number(
    value: Decimal,
    where: str,
    *,
    low: Decimal,
    high: Decimal | None = None,
    open_low: bool = False,
) -> None:
    """A finite decimal in [low, high) ((low, …) when `open_low`), at most 6 places."""
    if not value.is_finite():
        raise InvalidField(f"{where} must be a finite number", field=where)
    below = value <= low if open_low else value < low
    if below or (high is not None and value >= high):
        bounds = f"{'(' if open_low else '['}{low}, {high if high is not None else '∞'})"
        raise InvalidField(f"{where} must be in {bounds}, got {value}", field=where)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_PLACES_MAX:
        raise InvalidField(f"{where} has more than {_PLACES_MAX} decimal places", field=where)


def in_force(permits: list[Permit], month: date) -> Permit | None:
    """The permit in force in `month` (any day of it): the latest that took effect by then."""
    first = month.replace(day=1)
    found = [p for p in permits if p.effective_from <= first]
    return max(found, key=lambda p: p.effective_from) if found else None


def relaxations(before: Permit | None, after: Permit) -> tuple[str, ...]:
    """Every change from `before` (None: no permit) to `after` that can lower the tax."""
    old_standards = {} if before is None else before.standards
    old_etas = {} if before is None else before.removal_efficiencies
    found = [
        f"standard of {pollutant} raised to {limit}"
        if pollutant in old_standards
        else f"standard of {pollutant} added"
        for pollutant, limit in sorted(after.standards.items())
        if pollutant not in old_standards or limit > old_standards[pollutant]
    ]
    # Without a standard no hour of the pollutant is judged: its exceedances stop voiding the
    # Article 13 reductions of the outlet's (or the taxpayer's) other pollutants.
    found += [
        f"standard of {pollutant} removed"
        for pollutant in sorted(old_standards)
        if pollutant not in after.standards
    ]
    if before is not None and before.standards and before.reference_o2 != after.reference_o2:
        found.append("reference O2 changed")
    found += [
        f"removal efficiency of {pollutant} lowered or removed"
        for pollutant, eta in sorted(old_etas.items())
        if after.removal_efficiencies.get(pollutant, Decimal(-1)) < eta
    ]
    if before is not None and before.cems_required and not after.cems_required:
        found.append("CEMS obligation lifted")
    # General dust is 4 kg per equivalent against soot's 2.18: the same PM, ~45 % less tax.
    if after.particulate is Pollutant.GENERAL_DUST and (
        before is None or before.particulate is not Pollutant.GENERAL_DUST
    ):
        found.append("PM taxed as general dust")
    return tuple(found)
