"""Finance commands of `emissions-ledger`: import-statement, reconcile, export, close-period.

Long runs show a progress bar (rich) on standard error: an export counts its rows as they are
written, an import its lines as they are checked. The acting principal is the one whose token is
in `LEDGER_TOKEN` (ledger.entrypoints.acting), with the authority checks, scope and audit of any
other caller: an export holds the rows that principal sees. The public market report needs no
token. A refusal prints its code and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from ledger.domain.access import Actor
from ledger.domain.finance import ReportTable
from ledger.domain.reconciliation import Tolerance
from ledger.entrypoints import acting
from ledger.entrypoints.common import with_store
from ledger.persistence.store import Store
from ledger.services import exports, periods, statements
from ledger.services import reconciliation as rec

REPORTS = ("trial-balance", "supply", "holdings", "statement", "trades", "tax-returns", "market")
PARTY_REPORTS = ("holdings", "statement")
T = TypeVar("T")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the finance sub-commands on the CLI's parser."""
    imports = commands.add_parser("import-statement", help="import a bank or exchange CSV")
    imports.add_argument("file", type=Path)
    imports.add_argument("--account", required=True, help="the ledger account it reconciles")
    imports.add_argument("--source", choices=rec.SOURCES, default="bank")
    imports.add_argument("--currency", default="CNY")
    reconcile = commands.add_parser("reconcile", help="match an imported statement")
    reconcile.add_argument("import_id")
    reconcile.add_argument("--amount-tolerance-fen", type=int, default=0)
    reconcile.add_argument("--days", type=int, default=0, help="date tolerance in days")
    export = commands.add_parser("export", help="write a finance report as CSV, XLSX or JSON")
    export.add_argument("report", choices=REPORTS)
    export.add_argument("--output", type=Path, required=True)
    export.add_argument("--format", choices=exports.FORMATS, help="default: the file's suffix")
    export.add_argument("--instrument", default="CNY")
    export.add_argument("--as-of", type=date.fromisoformat)
    export.add_argument("--party")
    export.add_argument("--account", default="cash")
    export.add_argument("--from", dest="first", type=date.fromisoformat)
    export.add_argument("--to", dest="last", type=date.fromisoformat)
    export.add_argument("--year", type=int)
    close = commands.add_parser("close-period", help="close a month, quarter or year")
    close.add_argument("period", help="2026-03, 2026-Q1 or 2026")
    close.add_argument("--reason", default="")
    imports.set_defaults(run=with_store(_import))
    reconcile.set_defaults(run=with_store(_reconcile))
    export.set_defaults(run=with_store(_export))
    close.set_defaults(run=with_store(_close))


def _actor(store: Store) -> Actor:
    """The principal whose token is in `LEDGER_TOKEN`."""
    return acting.actor_from_environment(store, sys.argv[1:])


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
        console=Console(stderr=True),
    )


def _counted(items: Iterable[T], progress: Progress, description: str) -> Iterator[T]:
    task = progress.add_task(description, total=None)
    for item in items:
        progress.advance(task)
        yield item


def _import(store: Store, arguments: argparse.Namespace) -> int:
    content = arguments.file.read_bytes()
    with _progress() as progress:
        task = progress.add_task(f"importing {arguments.file.name}", total=1)
        made = rec.import_statement(
            store,
            _actor(store),
            arguments.account,
            arguments.source,
            arguments.file.name,
            content,
            arguments.currency,
        )
        progress.advance(task)
    record = made.record
    again = " (already imported: nothing changed)" if made.replayed else ""
    print(f"{record.id}: {record.line_count} lines {record.first_date}..{record.last_date}{again}")
    return 0


def _close(store: Store, arguments: argparse.Namespace) -> int:
    record = periods.close_period(store, _actor(store), arguments.period, arguments.reason)
    print(f"period {record.period.label} closed ({record.entries_at_close} entries)")
    return 0


def _reconcile(store: Store, arguments: argparse.Namespace) -> int:
    tolerance = Tolerance(arguments.amount_tolerance_fen, arguments.days)
    report = rec.start_reconciliation(store, _actor(store), arguments.import_id, tolerance).record
    print(
        f"{report.reconciliation.id}: {len(report.matches)} matches, "
        f"{len(report.unmatched_lines)} unmatched statement lines, "
        f"{len(report.unmatched_postings)} unmatched postings, "
        f"{len(report.differences)} matches with a difference"
    )
    return 0


def _table(store: Store, a: argparse.Namespace) -> ReportTable:  # noqa: PLR0911 - one per report
    first, last = a.first or date(2000, 1, 1), a.last or date.today()
    if a.report == "market":  # public: no token needed
        return statements.market_report(store, first, last)
    actor = _actor(store)
    if a.report == "trial-balance":
        return statements.trial_balance(store, actor, a.instrument, a.as_of)
    if a.report == "supply":
        return statements.supply(store, actor, a.as_of)
    if a.report == "tax-returns":
        return statements.tax_returns(store, actor, a.year or date.today().year)
    if a.report == "trades":
        return statements.trades(store, actor, first, last)
    if a.report == "holdings":
        return statements.holdings(store, actor, a.party, a.as_of)
    return statements.account_statement(store, actor, a.party, a.account, a.instrument, first, last)


def _export(store: Store, arguments: argparse.Namespace) -> int:
    output: Path = arguments.output
    name = arguments.format or output.suffix.lstrip(".") or "csv"
    if name not in exports.FORMATS:
        print(f"unknown format {name!r}: one of {exports.FORMATS}", file=sys.stderr)
        return 2
    if arguments.report in PARTY_REPORTS and not arguments.party:
        print(f"the {arguments.report} report needs --party", file=sys.stderr)
        return 2
    table = _table(store, arguments)
    with _progress() as progress:
        table.rows = _counted(table.rows, progress, f"{arguments.report} rows")
        if name == "xlsx":
            with output.open("wb") as binary:
                exports.write_xlsx(table, binary)
        else:
            chunks = exports.csv_chunks(table) if name == "csv" else exports.json_chunks(table)
            with output.open("w", encoding="utf-8", newline="") as text_file:
                text_file.writelines(chunks)
    print(f"wrote {output} ({name})")
    return 0
