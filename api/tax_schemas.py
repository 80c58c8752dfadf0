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
from ledger.domain.errors import InvalidField
from ledger.domain.incentives import (
    CreditYear,
    Incentive,
    ReductionReversal,
    VerifiedReduction,
)
from ledger.domain.monitoring import reported_mean
from ledger.domain.tax import MonthlyTax, OutletTotal, QuarterlyReturn, TaxLine, TaxPolicy
from ledger.domain.tax_filing import AnnualTax, FiledReturn
from ledger.domain.tax_tables import (
    EquivalentValue,
    Membership,
    Pollutant,
    Rate,
    RateCategory,
    RateSchedule,
    TableEntry,
    TableKind,
    TableValue,
    entry_payload,
)
from ledger.services.reductions import RightsObligation
from ledger.services.tax import Computation

QuarterText = Annotated[str, Field(pattern=r"^[0-9]{4}Q[1-4]$", examples=["2025Q1"])]
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
    rate: str | None = Field(description="CNY per pollution equivalent; none on untaxed lines")
    ratio: str | None = Field(description="monthly mean / standard, to 0.0001 for display")
    ratio_exact: str | None
    factor: str | None = Field(description="Article 13 factor; none on untaxed lines")
    disqualifications: list[str]
    tax_before: str
    reduction: str
    tax_due: str


class OutletTotalOut(Strict):
    outlet: str
    total_before: str
    total_reduction: str
    total_due: str


class MonthOut(Strict):
    month: str
    scheme: str = Field(description="the rate scheme in force for the enterprise's place")
    tier: str = Field(description="its tier ('minimum' for the national minimum)")
    total_before: str
    total_reduction: str
    total_due: str
    outlets: list[OutletTotalOut]
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
    outlets: list[OutletTotalOut] = Field(description="per outlet, over the quarter")
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
        rate=str(line.rate) if line.taxed else None,
        ratio=None if line.ratio is None else str(reported_mean(line.ratio, 4)),
        ratio_exact=_fraction(line.ratio),
        factor=str(line.factor) if line.taxed else None,
        disqualifications=[reason.value for reason in line.disqualifications],
        tax_before=cny(line.tax_before),
        reduction=cny(line.reduction),
        tax_due=cny(line.tax_due),
    )


def outlets_out(totals: tuple[OutletTotal, ...]) -> list[OutletTotalOut]:
    return [
        OutletTotalOut(
            outlet=total.outlet,
            total_before=cny(total.tax_before),
            total_reduction=cny(total.reduction),
            total_due=cny(total.tax_due),
        )
        for total in totals
    ]


def month_out(month: MonthlyTax) -> MonthOut:
    return MonthOut(
        month=f"{month.month:%Y-%m}",
        scheme=month.placement.scheme,
        tier=month.placement.tier,
        total_before=cny(month.total_before),
        total_reduction=cny(month.total_reduction),
        total_due=cny(month.total_due),
        outlets=outlets_out(month.outlets),
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
        "outlets": outlets_out(computed.outlets),
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


class AnnualReturnOut(Strict):
    id: str
    quarter: str
    total_before: str
    total_reduction: str
    total_due: str


class AnnualTaxOut(Strict):
    party: str
    year: int
    returns: list[AnnualReturnOut] = Field(description="the return in force of each quarter")
    quarters_without_return: list[int]
    total_before: str
    total_reduction: str
    total_due: str
    outlets: list[OutletTotalOut] = Field(description="per outlet, over the year")


def annual_out(annual: AnnualTax) -> AnnualTaxOut:
    return AnnualTaxOut(
        party=annual.party,
        year=annual.year,
        returns=[
            AnnualReturnOut(
                id=filed.id,
                quarter=str(filed.quarter),
                total_before=cny(filed.computed.total_before),
                total_reduction=cny(filed.computed.total_reduction),
                total_due=cny(filed.computed.total_due),
            )
            for filed in annual.returns
        ],
        quarters_without_return=list(annual.quarters_without_return),
        total_before=cny(annual.total_before),
        total_reduction=cny(annual.total_reduction),
        total_due=cny(annual.total_due),
        outlets=outlets_out(annual.outlets),
    )


# -- the tax tables ------------------------------------------------------------------------------

Scheme = Annotated[str, Field(min_length=1, max_length=32, examples=["hebei"])]
Tier = Annotated[str, Field(min_length=1, max_length=16, examples=["1"])]
Place = Annotated[str, Field(max_length=64), NO_NUL]


class TableEntryIn(Strict):
    """One entry: a `rate` (scheme, tier, category, cny_per_equivalent), an `equivalent`
    (pollutant, kg_per_equivalent) or a `membership` (city, county: "" for the whole city,
    scheme, tier). Fields of another kind are refused."""

    id: RecordId
    kind: Literal["rate", "equivalent", "membership"]
    valid_from: BusinessDate = Field(description="the first day of a month")
    scheme: Scheme | None = None
    tier: Tier | None = None
    category: Literal["so2_nox", "other_air", "cod_nh3n", "other_water"] | None = None
    cny_per_equivalent: AmountText | None = None
    pollutant: Annotated[str, Field(max_length=24)] | None = None
    kg_per_equivalent: AmountText | None = None
    city: Place | None = None
    county: Place | None = None

    def to_domain(self) -> TableValue:
        kind = TableKind(self.kind)
        fields = {
            TableKind.RATE: ("scheme", "tier", "category", "cny_per_equivalent"),
            TableKind.EQUIVALENT: ("pollutant", "kg_per_equivalent"),
            TableKind.MEMBERSHIP: ("city", "county", "scheme", "tier"),
        }[kind]
        given = self.model_dump(exclude_none=True, exclude={"id", "kind", "valid_from"})
        for name in given.keys() - set(fields):
            raise InvalidField(f"a {kind.value} has no {name}", field=name)
        for name in set(fields) - given.keys():
            raise InvalidField(f"a {kind.value} needs {name}", field=name)
        if kind is TableKind.RATE:
            return Rate(
                given["scheme"],
                given["tier"],
                RateCategory(given["category"]),
                parse_decimal(given["cny_per_equivalent"], field="cny_per_equivalent"),
            )
        if kind is TableKind.EQUIVALENT:
            try:
                pollutant = Pollutant(given["pollutant"])
            except ValueError:
                raise InvalidField("no such taxable pollutant", field="pollutant") from None
            kg = parse_decimal(given["kg_per_equivalent"], field="kg_per_equivalent")
            return EquivalentValue(pollutant, kg)
        return Membership(given["city"], given["county"], given["scheme"], given["tier"])


class TableEntryOut(Strict):
    id: str
    kind: str
    valid_from: str
    scheme: str | None = None
    tier: str | None = None
    category: str | None = None
    cny_per_equivalent: str | None = None
    pollutant: str | None = None
    kg_per_equivalent: str | None = None
    city: str | None = None
    county: str | None = None
    recorded_by: str
    recorded_at: datetime | None


class TableEntryPage(Strict):
    entries: list[TableEntryOut]
    next_cursor: str | None


class ScheduleOut(Strict):
    party: str
    month: str
    scheme: str
    tier: str
    rates: dict[str, str] = Field(description="CNY per equivalent, by rate category")
    equivalents: dict[str, str] = Field(description="kg per equivalent, by pollutant")


def entry_out(entry: TableEntry) -> TableEntryOut:
    fields = entry_payload(entry.id, entry.valid_from, entry.value)
    return TableEntryOut.model_validate(
        {**fields, "recorded_by": entry.recorded_by, "recorded_at": entry.recorded_at}
    )


def schedule_out(party: str, month: str, schedule: RateSchedule) -> ScheduleOut:
    return ScheduleOut(
        party=party,
        month=month,
        scheme=schedule.placement.scheme,
        tier=schedule.placement.tier,
        rates={category.value: str(rate) for category, rate in schedule.rates.items()},
        equivalents={p.value: str(kg) for p, kg in schedule.equivalents.items()},
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
            pattern=r"^[0-9]{4}-[0-9]{2}$",
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
