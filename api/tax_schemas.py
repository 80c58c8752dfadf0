"""Wire format of the environmental tax, incentives and verified reductions.

Money is a decimal string in CNY with exactly two places (`"24680.94"`); masses are exact
decimal strings in kg; equivalents and ratios are shown rounded for people (`equivalents`
to 0.01, `ratio` to 0.0001) next to their exact fraction (`"n/d"`), which is what decided.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import Field

from api import registry_schemas as rs
from api.registry_schemas import PartyCode, RecordId
from api.schemas import NO_NUL, AmountText, BusinessDate, Strict
from ledger.domain.amounts import parse_decimal, to_units
from ledger.domain.incentives import (
    CreditYear,
    Incentive,
    ReductionReversal,
    VerifiedReduction,
)
from ledger.domain.monitoring import reported_mean
from ledger.domain.tax import MonthlyTax, QuarterlyReturn, TaxLine, TaxPolicy
from ledger.domain.tax_filing import FiledReturn
from ledger.services.reductions import RightsObligation
from ledger.services.tax import Computation

QuarterText = Annotated[str, Field(pattern=r"^\d{4}Q[1-4]$", examples=["2025Q1"])]
Detail = Annotated[str, Field(max_length=400), NO_NUL]


def cny(amount: Decimal) -> str:
    """A tax amount (an exact Decimal of CNY, already rounded to the fen) as text."""
    return f"{amount:.2f}"


def _fraction(value: Fraction | None) -> str | None:
    return None if value is None else f"{value.numerator}/{value.denominator}"


# -- computation and returns -------------------------------------------------------------------


class TaxLineOut(Strict):
    month: str = Field(examples=["2025-01"])
    outlet: str
    pollutant: str
    mass_kg: str
    equivalents: str = Field(description="rounded half-up to 0.01 for display")
    equivalents_exact: str
    rank: int
    taxed: bool
    rate: str = Field(description="CNY per pollution equivalent")
    ratio: str | None = Field(description="monthly mean / standard, to 0.0001 for display")
    ratio_exact: str | None
    factor: str
    disqualifications: list[str]
    tax_before: str
    reduction: str
    tax_due: str


class MonthOut(Strict):
    month: str
    tier: int
    total_before: str
    total_reduction: str
    total_due: str
    lines: list[TaxLineOut]


class TaxComputationOut(Strict):
    party: str
    quarter: str
    source: Literal["reports", "monitoring"]
    policy: dict[str, object]
    report_ids: list[str]
    total_before: str
    total_reduction: str
    total_due: str
    months: list[MonthOut]


class TaxReturnIn(Strict):
    party: PartyCode
    quarter: QuarterText


class TaxReturnOut(TaxComputationOut):
    id: str
    version: int
    supersedes: str | None
    void: bool
    filed_by: str
    filed_at: datetime


class TaxReturnPage(Strict):
    returns: list[TaxReturnOut]
    next_cursor: str | None


class TaxPolicyIn(Strict):
    scope: Literal["taxpayer", "outlet", "outlet_pollutant"] | None = None
    inclusive_thresholds: bool | None = None
    air_taxed: Annotated[int, Field(ge=1, le=20)] | None = None
    water_class_1_taxed: Annotated[int, Field(ge=1, le=20)] | None = None
    water_other_taxed: Annotated[int, Field(ge=1, le=20)] | None = None


class TaxPolicyOut(Strict):
    scope: str
    inclusive_thresholds: bool
    air_taxed: int
    water_class_1_taxed: int
    water_other_taxed: int


def line_out(line: TaxLine) -> TaxLineOut:
    return TaxLineOut(
        month=f"{line.month:%Y-%m}",
        outlet=line.outlet,
        pollutant=line.pollutant.value,
        mass_kg=str(line.mass_kg),
        equivalents=str(reported_mean(line.equivalents, 2)),
        equivalents_exact=_fraction(line.equivalents) or "",
        rank=line.rank,
        taxed=line.taxed,
        rate=str(line.rate),
        ratio=None if line.ratio is None else str(reported_mean(line.ratio, 4)),
        ratio_exact=_fraction(line.ratio),
        factor=str(line.factor),
        disqualifications=[reason.value for reason in line.disqualifications],
        tax_before=cny(line.tax_before),
        reduction=cny(line.reduction),
        tax_due=cny(line.tax_due),
    )


def month_out(month: MonthlyTax) -> MonthOut:
    return MonthOut(
        month=f"{month.month:%Y-%m}",
        tier=month.tier,
        total_before=cny(month.total_before),
        total_reduction=cny(month.total_reduction),
        total_due=cny(month.total_due),
        lines=[line_out(line) for line in month.lines],
    )


def policy_out(policy: TaxPolicy) -> TaxPolicyOut:
    return TaxPolicyOut(
        scope=policy.scope.value,
        inclusive_thresholds=policy.inclusive_thresholds,
        air_taxed=policy.air_taxed,
        water_class_1_taxed=policy.water_class_1_taxed,
        water_other_taxed=policy.water_other_taxed,
    )


def _common(
    computed: QuarterlyReturn, source: str, policy: TaxPolicy, reports: tuple[str, ...]
) -> dict[str, object]:
    return {
        "party": computed.taxpayer,
        "quarter": f"{computed.year}Q{computed.quarter}",
        "source": source,
        "policy": policy_out(policy).model_dump(),
        "report_ids": list(reports),
        "total_before": cny(computed.total_before),
        "total_reduction": cny(computed.total_reduction),
        "total_due": cny(computed.total_due),
        "months": [month_out(month) for month in computed.months],
    }


def computation_out(computation: Computation) -> TaxComputationOut:
    return TaxComputationOut.model_validate(
        _common(
            computation.computed,
            computation.source.value,
            computation.policy,
            computation.report_ids,
        )
    )


def return_out(filed: FiledReturn) -> TaxReturnOut:
    return TaxReturnOut.model_validate(
        {
            **_common(filed.computed, filed.source.value, filed.policy, filed.report_ids),
            "id": filed.id,
            "version": filed.version,
            "supersedes": filed.supersedes,
            "void": filed.void,
            "filed_by": filed.filed_by,
            "filed_at": filed.filed_at,
        }
    )


# -- incentives ----------------------------------------------------------------------------------


class IncentiveIn(Strict):
    id: RecordId
    basis_id: Annotated[str, Field(min_length=1, max_length=64)]
    amount: AmountText = Field(examples=["1000.00"])


class EquipmentCreditIn(Strict):
    id: RecordId = Field(description="the equipment's id")
    party: PartyCode
    investment: AmountText = Field(description="qualifying investment, CNY")
    acquired_on: BusinessDate
    description: Detail = ""


class ClawbackIn(Strict):
    transferred_on: BusinessDate
    detail: Detail = ""


class ReversalOut(Strict):
    reason: str
    entry_id: str
    at: datetime
    detail: str
    report_id: str | None


class IncentiveOut(Strict):
    id: str
    kind: str
    party: str
    basis_id: str
    amount: str
    basis: str
    entry_id: str
    booked_at: datetime
    report_ids: list[str]
    active: bool
    reversal: ReversalOut | None


class IncentivePage(Strict):
    incentives: list[IncentiveOut]
    next_cursor: str | None


class CreditYearOut(Strict):
    year: int
    cit_payable: str
    used: str
    lapsed: str
    left: str


def incentive_out(incentive: Incentive) -> IncentiveOut:
    reversal = incentive.reversal
    return IncentiveOut(
        id=incentive.id,
        kind=incentive.kind.value,
        party=incentive.party,
        basis_id=incentive.basis_id,
        amount=rs.cny(incentive.amount_fen),
        basis=rs.cny(incentive.basis_fen),
        entry_id=incentive.entry_id,
        booked_at=incentive.booked_at,
        report_ids=list(incentive.report_ids),
        active=incentive.active,
        reversal=None
        if reversal is None
        else ReversalOut(
            reason=reversal.reason.value,
            entry_id=reversal.entry_id,
            at=reversal.at,
            detail=reversal.detail,
            report_id=reversal.report_id,
        ),
    )


def credit_year_out(year: CreditYear) -> CreditYearOut:
    return CreditYearOut(
        year=year.year,
        cit_payable=rs.cny(year.cit_payable_fen),
        used=rs.cny(year.used_fen),
        lapsed=rs.cny(year.lapsed_fen),
        left=rs.cny(year.left_fen),
    )


# -- reductions and rights obligations ---------------------------------------------------------


class ReductionIn(Strict):
    id: RecordId
    report_id: Annotated[str, Field(min_length=1, max_length=48)]
    pollutant: Literal["SO2", "NOx", "COD", "NH3-N"]
    retrofit_month: Annotated[
        str | None,
        Field(
            pattern=r"^\d{4}-\d{2}$",
            description="YYYY-MM: the CEMS baseline is the 12 months before it (default: the "
            "report's first month). The baseline is derived, never given.",
        ),
    ] = None
    release: Literal["reserve", "tradable", "none"] = "reserve"
    authority: PartyCode = "HEBEI"
    vintage: Annotated[int, Field(ge=2000, le=2100)] | None = None


class ReductionOut(Strict):
    id: str
    party: str
    pollutant: str
    year: int
    report_id: str | None
    baseline_kind: str
    baseline_kg: str = Field(description="kg over baseline_hours, derived from the data")
    baseline_hours: int
    actual_kg: str
    actual_hours: int
    retrofit_month: str | None
    reduction_kg: int
    released: str = Field(description="t released (kg precision)")
    release: str
    entry_id: str | None
    reversal: ReductionReversalOut | None = None


class ReductionReversalOut(Strict):
    reason: str
    report_id: str
    entry_id: str | None
    restored: str = Field(description="t given back from the reserve (kg precision)")
    unrestored: str = Field(description="t the reserve no longer had: the enterprise's to cover")
    at: datetime
    detail: str


class ReductionPage(Strict):
    reductions: list[ReductionOut]
    next_cursor: str | None


class RightsObligationOut(Strict):
    report_id: str
    party: str
    pollutant: str
    instrument: str
    verified: str = Field(description="t, rounded up to the kg")
    held: str = Field(description="t in holdings and pledged: a pledge does not take rights away")
    pledged: str = Field(description="t of `held` that are pledged")
    shortfall: str
    exceedances: int
    compliant: bool = Field(description="no shortfall and no hourly exceedance (rules §7.10)")
    findings: list[str] = Field(description="`shortfall`, `exceedances`: why not compliant")


def kg_decimal(text: str, field: str) -> Decimal:
    value = parse_decimal(text, field=field)
    to_units(value, 6, field=field)  # positive, finite, at most 6 places (mg)
    return value


def reduction_out(record: VerifiedReduction) -> ReductionOut:
    claim = record.claim
    return ReductionOut(
        id=record.id,
        party=claim.party,
        pollutant=claim.pollutant,
        year=claim.year,
        report_id=record.report_id,
        baseline_kind=claim.baseline_kind.value,
        baseline_kg=str(claim.baseline_kg),
        baseline_hours=claim.baseline_hours,
        actual_kg=str(claim.actual_kg),
        actual_hours=claim.actual_hours,
        retrofit_month=None if record.retrofit_month is None else f"{record.retrofit_month:%Y-%m}",
        reduction_kg=record.reduction_kg,
        released=rs.tonnes(record.released_units, claim.pollutant),
        release=record.release.value,
        entry_id=record.entry_id,
        reversal=None
        if record.reversal is None
        else _reversal_out(record.reversal, claim.pollutant),
    )


def _reversal_out(reversal: ReductionReversal, pollutant: str) -> ReductionReversalOut:
    return ReductionReversalOut(
        reason=reversal.reason.value,
        report_id=reversal.report_id,
        entry_id=reversal.entry_id,
        restored=rs.tonnes(reversal.restored_units, pollutant),
        unrestored=rs.tonnes(reversal.unrestored_units, pollutant),
        at=reversal.at,
        detail=reversal.detail,
    )


def obligation_out(obligation: RightsObligation) -> RightsObligationOut:
    return RightsObligationOut(
        report_id=obligation.report_id,
        party=obligation.party,
        pollutant=obligation.pollutant,
        instrument=obligation.instrument,
        verified=rs.tonnes(obligation.verified_units, obligation.pollutant),
        held=rs.tonnes(obligation.held_units, obligation.pollutant),
        pledged=rs.tonnes(obligation.pledged_units, obligation.pollutant),
        shortfall=rs.tonnes(obligation.shortfall_units, obligation.pollutant),
        exceedances=obligation.exceedances,
        compliant=obligation.compliant,
        findings=list(obligation.findings),
    )
