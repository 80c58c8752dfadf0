"""Filing the environmental-protection tax: quarters, policy settings and filed returns.

The formula is `ledger.domain.tax`; this module names what the ledger keeps of it. A filed
return is immutable: a return resting on a report later invalidated is marked void (its
Article 13 incentive reversed); a correction of a report it rests on makes the amended return,
the next version, which `supersedes` it (rules §7.5; the amended one then reads void too).

Policy settings (rules.md §1.3 open decisions) are stored as a small document; anything not
set takes `TaxPolicy`'s documented default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ledger.domain.bounds import check_year
from ledger.domain.errors import InvalidField, Kind, LedgerError
from ledger.domain.tax import (
    ZERO_CNY,
    OutletTotal,
    QuarterlyReturn,
    Scope,
    TaxPolicy,
    outlet_totals,
)

_QUARTER = re.compile(
    r"^([12]\d{3})Q([1-4])$", flags=re.ASCII
)  # years 2000–2100, checked after the pattern


class TaxDataMissing(
    LedgerError,
    code="tax_data_missing",
    kind=Kind.UNPROCESSABLE,
    title="No valid emission data for this enterprise and period",
):
    """A month of a tax return has no verified emission report or no valid monitoring hour."""


class TaxReturnNotFound(
    LedgerError, code="tax_return_not_found", kind=Kind.NOT_FOUND, title="Tax return not found"
):
    """The tax return named does not exist."""


class TaxReturnExists(
    LedgerError,
    code="tax_return_exists",
    kind=Kind.CONFLICT,
    title="A return for this quarter is filed and still rests on verified data",
):
    """A return is filed again for a quarter whose filed return still rests on verified data."""


class Source(StrEnum):
    """Where the facts of a computation come from."""

    REPORTS = "reports"  # verified emission reports: what a return is filed from
    MONITORING = "monitoring"  # CEMS monthly aggregates: a preview only, never filed


@dataclass(frozen=True, slots=True)
class Quarter:
    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """'2025Q1'."""
        match = _QUARTER.match(text)
        if match is None:
            raise InvalidField(f"quarter {text!r} is not YYYYQn", field="quarter")
        return cls(check_year(int(match.group(1)), "quarter"), int(match.group(2)))

    def months(self) -> tuple[date, date, date]:
        first = 3 * (self.quarter - 1) + 1
        return (
            date(self.year, first, 1),
            date(self.year, first + 1, 1),
            date(self.year, first + 2, 1),
        )

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"


def return_id(party: str, quarter: Quarter, version: int) -> str:
    """'E01-2025Q1-r1'."""
    return f"{party}-{quarter}-r{version}"


# -- policy settings ---------------------------------------------------------------------------

POLICY_DEFAULTS = TaxPolicy()


def policy_to_dict(policy: TaxPolicy) -> dict[str, Any]:
    """The settings as a JSON-able document."""
    return {
        "scope": policy.scope.value,
        "inclusive_thresholds": policy.inclusive_thresholds,
        "air_taxed": policy.air_taxed,
        "water_class_1_taxed": policy.water_class_1_taxed,
        "water_other_taxed": policy.water_other_taxed,
    }


def policy_from_dict(values: Mapping[str, Any]) -> TaxPolicy:
    """Settings from a document; absent keys take the defaults, unknown keys are refused."""
    known = {f.name for f in fields(TaxPolicy)}
    unknown = set(values) - known
    if unknown:
        raise InvalidField(f"unknown tax policy settings {sorted(unknown)}", field="policy")
    merged = {**policy_to_dict(POLICY_DEFAULTS), **values}
    try:
        scope = Scope(merged["scope"])
    except ValueError:
        raise InvalidField(f"unknown scope {merged['scope']!r}", field="scope") from None
    counts = {k: merged[k] for k in ("air_taxed", "water_class_1_taxed", "water_other_taxed")}
    for name, count in counts.items():
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 20:
            raise InvalidField(f"{name} must be an integer from 1 to 20", field=name)
    inclusive = merged["inclusive_thresholds"]
    if not isinstance(inclusive, bool):
        raise InvalidField("inclusive_thresholds is true or false", field="inclusive_thresholds")
    return TaxPolicy(scope=scope, inclusive_thresholds=inclusive, **counts)


# -- filed returns ---------------------------------------------------------------------------


def to_fen(amount: Decimal) -> int:
    """A CNY amount with at most two places as integer fen (exact; anything finer is a bug)."""
    fen = amount.scaleb(2)
    assert fen == fen.to_integral_value(), amount
    return int(fen)


def from_fen(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


@dataclass(frozen=True, slots=True)
class FiledReturn:
    """A quarterly return as filed: the computation, what it rests on, who filed it and when."""

    id: str
    version: int
    computed: QuarterlyReturn
    source: Source
    policy: TaxPolicy
    report_ids: tuple[str, ...]
    filed_by: str
    filed_at: datetime
    supersedes: str | None = None
    void: bool = False

    @property
    def party(self) -> str:
        return self.computed.taxpayer

    @property
    def quarter(self) -> Quarter:
        return Quarter(self.computed.year, self.computed.quarter)


@dataclass(frozen=True, slots=True)
class AnnualTax:
    """A year of an enterprise's tax: the return in force for each quarter filed (its latest
    version, unless that one is void), and their sums. Quarters without one are listed."""

    party: str
    year: int
    returns: tuple[FiledReturn, ...]

    @property
    def quarters_without_return(self) -> tuple[int, ...]:
        filed = {filed.computed.quarter for filed in self.returns}
        return tuple(q for q in (1, 2, 3, 4) if q not in filed)

    @property
    def total_before(self) -> Decimal:
        return sum((filed.computed.total_before for filed in self.returns), ZERO_CNY)

    @property
    def total_due(self) -> Decimal:
        return sum((filed.computed.total_due for filed in self.returns), ZERO_CNY)

    @property
    def total_reduction(self) -> Decimal:
        return sum((filed.computed.total_reduction for filed in self.returns), ZERO_CNY)

    @property
    def outlets(self) -> tuple[OutletTotal, ...]:
        """Per outlet: Σ over the year's returns of its rounded lines."""
        return outlet_totals(
            line
            for filed in self.returns
            for month in filed.computed.months
            for line in month.lines
        )
