"""Monitoring command of `emissions-ledger`: import-cems.

`import-cems FILE` streams the CSV (never loaded whole) into one all-or-nothing import and
shows a progress bar (rich) on standard error; a refused file prints its problems by line and
exits 1. The importer is the principal whose token is in `LEDGER_TOKEN`
(`ledger.entrypoints.acting`): its scope decides which outlets exist for it, and the import is
audited as its own. `generate-cems` (synthetic data to import) is in `cems_generator`.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ledger.domain.access import Actor
from ledger.domain.bounds import parse_month
from ledger.domain.cems import CemsImportRefused, RowProblem, csv_rows
from ledger.entrypoints import acting
from ledger.entrypoints.common import with_store
from ledger.persistence.store import Store
from ledger.services import monitoring

_CHUNK_BYTES = 1 << 20


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `import-cems` and `recompute-cems` on the CLI's parser."""
    imports = commands.add_parser(
        "import-cems", help="import a CEMS hourly CSV (all or nothing, idempotent)"
    )
    imports.add_argument("file", type=Path)
    imports.set_defaults(run=with_store(_import))
    recompute = commands.add_parser(
        "recompute-cems",
        help="recompute the stored monthly aggregates of a range of months from their hours "
        "(after a rule change; a regulator)",
    )
    recompute.add_argument("--from", dest="first", required=True, help="YYYY-MM")
    recompute.add_argument("--to", dest="last", required=True, help="YYYY-MM")
    recompute.set_defaults(run=with_store(_recompute))


def _import(store: Store, arguments: argparse.Namespace) -> int:
    actor = acting.actor_from_environment(store, sys.argv[1:])
    return import_file(store, arguments.file, actor)


def _recompute(store: Store, arguments: argparse.Namespace) -> int:
    actor = acting.actor_from_environment(store, sys.argv[1:])
    first, last = parse_month(arguments.first, "from"), parse_month(arguments.last, "to")
    written = monitoring.recompute_months(store, actor, first, last)
    print(f"{written} monthly aggregates recomputed")
    return 0


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 of the file's bytes and its number of lines, read in chunks (one fast pass)."""
    digest, lines = hashlib.sha256(), 0
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK_BYTES):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), lines


def file_rows(path: Path) -> Iterator[tuple[int, list[str]] | RowProblem]:
    """The file's rows, streamed."""
    with path.open(encoding="utf-8", newline="") as source:
        yield from csv_rows(source)


def import_file(store: Store, path: Path, actor: Actor) -> int:
    """Import one CSV file with a progress bar; print the outcome or the problems."""
    if not path.is_file():
        print(f"no such file: {path}", file=sys.stderr)
        return 2
    sha256, lines = file_digest(path)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task("checking and staging rows", total=max(lines - 1, 0))
        try:
            made = monitoring.import_cems(
                store,
                actor,
                lambda: file_rows(path),
                sha256,
                path.name,
                progress=lambda done: bar.update(task, completed=done),
            )
        except CemsImportRefused as refused:
            bar.stop()
            _print_problems(refused)
            return 1
    record = made.record
    if made.replayed:
        print(f"already imported (import {record.seq}, {record.imported_at:%Y-%m-%d %H:%M}Z)")
        return 0
    print(
        f"import {record.seq}: {record.rows} rows, {record.inserted} new hours, "
        f"{record.unchanged} unchanged, {record.months} monthly aggregates recomputed"
    )
    return 0


def _print_problems(refused: CemsImportRefused) -> None:
    print(f"nothing imported: {refused.count} problem(s)", file=sys.stderr)
    for problem in refused.problems:
        where = f"line {problem.line}" + (f" [{problem.field}]" if problem.field else "")
        print(f"  {where}: {problem.code}: {problem.detail}", file=sys.stderr)
    if refused.count > len(refused.problems):
        print(f"  … and {refused.count - len(refused.problems)} more", file=sys.stderr)
