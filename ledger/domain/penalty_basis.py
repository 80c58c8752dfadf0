"""Penalty-basis events (rules.md §1.1, §7.3): what switches an outlet to its *generated* amount.

A regulator records an event against one outlet for a span of months, with the evidence it
rests on: CEMS not installed or not networked where required, CEMS damaged, moved or its data
tampered with or forged, illegal discharge (bypass, dilution, control equipment not run), or a
false return. The enterprise sees its own events. When a quarter's tax is computed (to preview
it or to file it), every line of the outlet in a month the event touches:

- is taxed on the generated amount: **discharged / (1 − η)** with η the design removal
  efficiency of the pollutant on the outlet's permit in force that month; without η, the
  discharged mass (η taken as 0: never less than what was discharged); and the regulator's
  figure for that pollutant (kg per month; the largest, if two events of the month give one)
  where it is larger. A figure only ever raises the base: one regulator's event must not tax
  less than the permit's η says (lowering η takes a second regulator) or than was discharged;
- gets no Article 13 reduction (`Disqualification.PENALTY_EVENT`; under the taxpayer-wide
  scope, no line of the taxpayer in that month does).

Rounding: the generated mass is rounded **up** to the gram (0.001 kg), the one rounding here;
rounding up keeps the base never below the exact generated amount.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from ledger.domain.bounds import check_date
from ledger.domain.errors import InvalidField, Kind, LedgerError
from ledger.domain.limits import MASS_KG_MAX
from ledger.domain.permits import Permit
from ledger.domain.tax import PollutantMonth
from ledger.domain.tax_tables import Pollutant

EVIDENCE_LENGTH_MAX = 500
GRAM = Decimal("0.001")


class PenaltyEventNotFound(
    LedgerError,
    code="penalty_event_not_found",
    kind=Kind.NOT_FOUND,
    title="Penalty-basis event not found",
):
    """No such event, or not one the caller may see."""


class PenaltyReason(StrEnum):
    """Why the outlet is taxed on its generated amount (rules.md §7.3)."""

    NO_NETWORKED_CEMS = "no_networked_cems"
    CEMS_TAMPERED = "cems_tampered"
    ILLEGAL_DISCHARGE = "illegal_discharge"
    FALSE_RETURN = "false_return"


@dataclass(frozen=True, slots=True)
class PenaltyBasisEvent:
    """An event against `outlet` for the months `first_month`..`last_month` (first days).

    `generated_kg` is the regulator's figure of the generated mass per month, by measured
    pollutant ('SO2', 'PM'), where η is unknown (where it is known, the figure counts only if
    larger). `recorded_by` / `recorded_at` are set when it is stored."""

    id: str
    party: str
    outlet: str
    reason: PenaltyReason
    first_month: date
    last_month: date
    evidence: str
    generated_kg: Mapping[str, Decimal] = field(default_factory=dict)
    recorded_by: str = ""
    recorded_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("first_month", "last_month"):
            month: date = getattr(self, name)
            if month.day != 1:
                raise InvalidField("a month is given by its first day", field=name)
            check_date(month, name)
        if self.last_month < self.first_month:
            raise InvalidField("the last month is before the first", field="last_month")
        if not self.evidence.strip():
            raise InvalidField("an event names its evidence", field="evidence")
        if len(self.evidence) > EVIDENCE_LENGTH_MAX:
            raise InvalidField("evidence is at most 500 characters", field="evidence")
        for pollutant, kg in self.generated_kg.items():
            where = f"generated_kg.{pollutant}"
            if not kg.is_finite() or not 0 <= kg <= MASS_KG_MAX:
                raise InvalidField(f"{where} must be from 0 to {MASS_KG_MAX} kg", field=where)

    def definition(self) -> PenaltyBasisEvent:
        """The event without who stored it and when (what a retry must repeat)."""
        return PenaltyBasisEvent(
            self.id,
            self.party,
            self.outlet,
            self.reason,
            self.first_month,
            self.last_month,
            self.evidence,
            dict(self.generated_kg),
        )

    def touches(self, month: date) -> bool:
        return self.first_month <= month.replace(day=1) <= self.last_month


def generated_mass(
    discharged_kg: Decimal, efficiency: Decimal | None, regulators_kg: Decimal | None
) -> Decimal:
    """The generated mass of a month: discharged / (1 − η), else the discharged mass, or the
    regulator's figure where it is larger; rounded up to the gram."""
    exact = discharged_kg if efficiency is None else discharged_kg / (1 - efficiency)
    if regulators_kg is not None:
        exact = max(exact, regulators_kg)
    return min(exact.quantize(GRAM, rounding=ROUND_CEILING), Decimal(MASS_KG_MAX))


def measured_name(pollutant: Pollutant) -> str:
    """What a permit names a tax pollutant by: soot and general dust are measured as PM."""
    return "PM" if pollutant in (Pollutant.SOOT, Pollutant.GENERAL_DUST) else pollutant.value


def on_generated_basis(
    fact: PollutantMonth, events: Sequence[PenaltyBasisEvent], permit: Permit | None
) -> PollutantMonth:
    """`fact` taxed on the generated amount if an event of its outlet touches its month (the
    events given are the month's); unchanged otherwise."""
    mine = [event for event in events if event.outlet == fact.outlet]
    if not mine:
        return fact
    measured = measured_name(fact.pollutant)
    figures = [e.generated_kg[measured] for e in mine if measured in e.generated_kg]
    efficiency = None if permit is None else permit.removal_efficiencies.get(measured)
    generated = generated_mass(fact.mass_kg, efficiency, max(figures) if figures else None)
    return replace(fact, mass_kg=generated)
