"""Tax commands of `emissions-ledger`: tax, file-return, demo-tax.

- `tax ENTERPRISE --quarter 2025Q1 [--source reports|monitoring]` prints the quarter's monthly
  lines and totals (computed, not filed).
- `file-return ENTERPRISE --quarter 2025Q1` files the return (and books its Article 13
  incentive).
- `demo-tax [--year 2025 --seed 2025]` computes every demo enterprise's annual tax from a year
  of generated CEMS data (`cems_generator`), through the same CEMS parsing, monthly tally
  and tax formula as the ledger, in memory (no database needed): the table of docs/domain/tax.md.

`tax` and `file-return` act as the principal whose token is in `LEDGER_TOKEN`
(`ledger.entrypoints.acting`), with its scope, and a filing is audited as its own.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from ledger.domain.cems import (
    TAX_POLLUTANT,
    OutletKey,
    StoredHour,
    csv_rows,
    parse_row,
)
from ledger.domain.monitoring import EmissionStandard, MonthlyAggregate
from ledger.domain.tax import Disqualification, MonthlyTax, PollutantMonth, TaxLine, monthly_tax
from ledger.domain.tax_filing import Quarter, Source
from ledger.domain.tax_tables import statutory_tables
from ledger.domain.taxed_months import months_as_taxed
from ledger.entrypoints import acting, cems_generator
from ledger.entrypoints.common import with_store
from ledger.entrypoints.demo import rows
from ledger.persistence.store import Store
from ledger.services import tax
from ledger.settings import Settings

ZERO = Decimal("0.00")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the tax sub-commands on the CLI's parser."""
    compute = commands.add_parser("tax", help="compute an enterprise's quarter (lines, totals)")
    compute.add_argument("enterprise")
    compute.add_argument("--quarter", required=True, help="e.g. 2025Q1")
    compute.add_argument("--source", choices=("reports", "monitoring"), default="reports")
    compute.set_defaults(run=with_store(_compute))
    filing = commands.add_parser("file-return", help="file a quarter's return from reports")
    filing.add_argument("enterprise")
    filing.add_argument("--quarter", required=True)
    filing.set_defaults(run=with_store(_file))
    demo = commands.add_parser(
        "demo-tax", help="annual tax of the demo enterprises from generated CEMS data"
    )
    demo.add_argument("--year", type=int, default=2025)
    demo.add_argument("--seed", type=int, default=2025)
    demo.set_defaults(run=run_demo_tax)


def run_demo_tax(_: Settings, arguments: argparse.Namespace) -> int:
    print(markdown_table(demo_annual_tax(arguments.year, arguments.seed)))
    return 0


def _compute(store: Store, arguments: argparse.Namespace) -> int:
    quarter, source = Quarter.parse(arguments.quarter), Source(arguments.source)
    actor = acting.actor_from_environment(store, sys.argv[1:])
    computed = tax.compute_quarter(store, actor, arguments.enterprise, quarter, source)
    print(lines_table(computed.computed.months))
    return 0


def _file(store: Store, arguments: argparse.Namespace) -> int:
    quarter = Quarter.parse(arguments.quarter)
    actor = acting.actor_from_environment(store, sys.argv[1:])
    filed = tax.file_return(store, actor, arguments.enterprise, quarter).record
    print(f"filed {filed.id}")
    print(lines_table(filed.computed.months))
    return 0


def _if_taxed(line: TaxLine, value: Decimal) -> str:
    """A rate or factor as shown: an untaxed line has none."""
    return str(value) if line.taxed else "-"


def lines_table(months: Iterable[MonthlyTax]) -> str:
    """The monthly lines as a plain-text table, with the quarter's totals."""
    header = "month    outlet           pollutant  mass_kg         eq        rank taxed  rate "
    header += "factor  tax_before    reduction     tax_due      disqualified"
    out = [header]
    before = reduction = due = ZERO
    for month in months:
        for line in month.lines:
            out.append(
                f"{line.month:%Y-%m}  {line.outlet:16} {line.pollutant.value:10} "
                f"{line.mass_kg:>14.3f} {_shown(line.equivalents):>11} {line.rank:>4} "
                f"{'yes' if line.taxed else 'no':5} {_if_taxed(line, line.rate):>4} "
                f"{_if_taxed(line, line.factor):>6} "
                f"{line.tax_before:>12} {line.reduction:>12} {line.tax_due:>12}  "
                + ",".join(reason.value for reason in line.disqualifications)
            )
        before += month.total_before
        reduction += month.total_reduction
        due += month.total_due
    out.append(f"total: before {before} CNY, Article 13 reduction {reduction} CNY, due {due} CNY")
    return "\n".join(out)


# -- the demo's annual tax ------------------------------------------------------------------------


@dataclass(slots=True)
class AnnualTax:
    """One enterprise's year: Σ of its 12 months (sums of rounded lines)."""

    enterprise: str
    tier: str
    before: Decimal = ZERO
    reduction: Decimal = ZERO
    due: Decimal = ZERO
    exceedance_months: list[str] = field(default_factory=list)  # no reduction in them


def _aggregates(year: int, seed: int) -> list[tuple[str, MonthlyAggregate]]:
    """Every (enterprise, outlet, pollutant, month) of the generated year, as the import
    aggregates it: valid hours tallied, non-valid hours substituted, every reading judged."""
    specs = cems_generator.demo_outlets()
    keys = {(s.enterprise, s.outlet): OutletKey(i, s.enterprise) for i, s in enumerate(specs)}
    months = [date(year, number, 1) for number in range(1, 13)]
    found: list[tuple[str, MonthlyAggregate]] = []
    for spec in specs:
        standards = {
            pollutant: EmissionStandard(
                Decimal(str(limit)),
                None if spec.reference_o2 is None else Decimal(str(spec.reference_o2)),
            )
            for pollutant, limit in spec.standard_mg_nm3.items()
        }
        hours: dict[str, list[StoredHour]] = defaultdict(list)
        for row in csv_rows(cems_generator.generate([spec], year, seed=seed)):
            assert not isinstance(row, Exception) and isinstance(row, tuple), row
            hour = parse_row(row[1], row[0], keys)
            assert not isinstance(hour, list), hour  # the generator writes only possible rows
            hours[hour.pollutant].append(
                StoredHour(
                    hour.hour,
                    hour.concentration,
                    hour.dry_flow,
                    hour.o2,
                    hour.valid_minutes,
                    hour.flag,
                )
            )
        for pollutant, window in hours.items():
            standard = standards.get(pollutant)
            for aggregate in months_as_taxed(
                spec.outlet, pollutant, months, standard, window=window
            ):
                found.append((spec.enterprise, aggregate))
    return found


def demo_annual_tax(year: int, seed: int) -> list[AnnualTax]:
    """Each demo enterprise's annual environmental tax from generated CEMS data (default policy),
    at the statutory tables' schedule of its city and county (what a migrated ledger holds)."""
    places = {
        row["enterprise_id"]: row["city_county"].partition("/")[::2]
        for row in rows("enterprises.csv")
    }
    tables = statutory_tables()
    by_month: dict[tuple[str, date], list[MonthlyAggregate]] = defaultdict(list)
    for enterprise, aggregate in _aggregates(year, seed):
        by_month[(enterprise, aggregate.month)].append(aggregate)
    results = {
        code: AnnualTax(code, tables.placement(city, county, date(year, 1, 1)).tier)
        for code, (city, county) in places.items()
    }
    for (enterprise, month), aggregates in sorted(by_month.items()):
        facts = [PollutantMonth.from_aggregate(a, TAX_POLLUTANT[a.pollutant]) for a in aggregates]
        schedule = tables.schedule_for(*places[enterprise], month)
        result = monthly_tax(enterprise, month, schedule, facts)
        annual = results[enterprise]
        annual.before += result.total_before
        annual.reduction += result.total_reduction
        annual.due += result.total_due
        if any(Disqualification.OWN_EXCEEDANCE in line.disqualifications for line in result.lines):
            annual.exceedance_months.append(f"{month:%m}")
    return [results[code] for code in sorted(results)]


def markdown_table(results: Iterable[AnnualTax]) -> str:
    """The annual tax per enterprise as a Markdown table (CNY)."""
    out = [
        "| enterprise | tier | tax before reduction | Article 13 reduction | tax due | "
        "months with an hourly exceedance |",
        "|---|---|---:|---:|---:|---|",
    ]
    total = [ZERO, ZERO, ZERO]
    for r in results:
        months = ", ".join(r.exceedance_months) or "none"
        out.append(
            f"| {r.enterprise} | {r.tier} | {r.before:,} | {r.reduction:,} | {r.due:,} | {months} |"
        )
        total = [total[0] + r.before, total[1] + r.reduction, total[2] + r.due]
    out.append(f"| all | | {total[0]:,} | {total[1]:,} | {total[2]:,} | |")
    return "\n".join(out)


def _shown(value: Fraction) -> Decimal:
    """Equivalents for display only: exact Decimal division, half-up to 0.01 (never a float;
    the tax itself is computed on the exact fraction)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
