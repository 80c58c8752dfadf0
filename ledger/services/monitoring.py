"""Use cases of CEMS monitoring: import hourly records (a CSV file or a JSON batch) and read the
monthly aggregates.

An import is all or nothing, in one transaction: every row is parsed and checked
(`ledger.domain.cems.parse_row`), the good ones staged in the database, then hours repeated
within the import and hours stored already with other values are found by set queries. Any
problem refuses the whole import with the first `PROBLEMS_SHOWN_MAX` problems by line and
their total count. Otherwise the new hours are inserted and each touched (outlet, pollutant,
month) is re-aggregated from every stored hour of that month.

Idempotent twice over: an import whose bytes (SHA-256) were imported before returns the earlier
result and touches nothing; an hour stored already with the same values is skipped (counted as
`unchanged`), with other values it is a problem (`hour_conflicts_with_stored`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date

from ledger.domain.access import Principal, Scope
from ledger.domain.cems import (
    PROBLEMS_SHOWN_MAX,
    CemsHour,
    CemsImportRefused,
    ImportRecord,
    MonthlyTally,
    OutletInfo,
    OutletKey,
    RowProblem,
    StoredMonth,
    local_month,
    month_hours,
    parse_row,
)
from ledger.domain.errors import RetryableConflict
from ledger.domain.pages import check_page_size, decode_cursor
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.services.transactions import in_transaction, read

STAGE_BATCH_ROWS = 20_000  # rows handed to the database at once (bounded memory)

Rows = Iterable[tuple[int, list[str]] | RowProblem]
"""An import's rows: (line, fields in `FIELDS` order) or a problem that stops the reading."""
RowsSource = Callable[[], Rows]
"""Opens the rows afresh: called once per attempt, so a retried transaction reads them again."""
Progress = Callable[[int], None]
"""Told the number of rows read so far, once per staged batch."""


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import did: its record, whether it was a replay, and the months re-aggregated."""

    record: ImportRecord
    replayed: bool
    months: int


@dataclass
class _Problems:
    """The first problems by line, and how many there were in all."""

    shown: list[RowProblem]
    count: int = 0

    def add(self, problems: Iterable[RowProblem]) -> None:
        for problem in problems:
            self.count += 1
            if len(self.shown) < PROBLEMS_SHOWN_MAX:
                self.shown.append(problem)

    def merged(self, others: Iterable[RowProblem]) -> list[RowProblem]:
        return sorted([*self.shown, *others], key=lambda p: p.line)[:PROBLEMS_SHOWN_MAX]


def import_cems(  # noqa: PLR0917 - a use case's inputs
    uow_factory: UnitOfWorkFactory,
    rows: RowsSource,
    sha256: str,
    source: str,
    actor: Principal,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Import hourly records for the outlets `actor` may see; refuses them all on any problem.

    `rows` is called once per attempt (a retried transaction reads the rows again).
    """

    def work(uow: UnitOfWork) -> ImportOutcome:
        earlier = uow.monitoring.find_import(sha256)
        if earlier is not None:
            return ImportOutcome(earlier, replayed=True, months=0)
        outlets = _visible_outlets(uow, actor.scope)
        staged, touched = _stage(uow, rows(), outlets, progress)
        unchanged = uow.monitoring.unchanged_hours()
        record = ImportRecord(
            sha256, source, staged, staged - unchanged, unchanged, actor.id, uow.now()
        )
        seq = uow.monitoring.add_import(record)
        inserted = uow.monitoring.insert_staged(seq)
        uow.monitoring.end_staging()
        if inserted != record.inserted:  # a concurrent import stored some of these hours
            raise RetryableConflict("CEMS hours were stored concurrently; retrying")
        months = _reaggregate(uow, touched, outlets) if inserted else 0
        return ImportOutcome(replace(record, seq=seq), replayed=False, months=months)

    return in_transaction(uow_factory, work)


def _visible_outlets(uow: UnitOfWork, scope: Scope) -> dict[int, OutletInfo]:
    """The outlets the importer may write to: in scope, by row id (others are unknown)."""
    outlets = uow.monitoring.outlets(scope.party)
    if scope.city is not None:
        cities = {o.party: _city(uow, o.party) for o in outlets}
        outlets = [o for o in outlets if scope.sees(o.party, cities[o.party])]
    return {outlet.seq: outlet for outlet in outlets}


def _city(uow: UnitOfWork, party: str) -> str | None:
    found = uow.registry.get_party(party)
    return None if found is None else found.city


def _stage(
    uow: UnitOfWork, rows: Rows, outlets: dict[int, OutletInfo], progress: Progress | None
) -> tuple[int, set[tuple[int, str, date]]]:
    """Parse and stage every row; refuse the import if any row or staged hour has a problem."""
    keys = {(o.party, o.outlet): OutletKey(o.seq, o.party) for o in outlets.values()}
    problems = _Problems([])
    touched: set[tuple[int, str, date]] = set()
    batch: list[tuple[int, int, str, int, int, int, int, int, str]] = []
    staged = 0
    uow.monitoring.start_staging()
    for item in rows:
        if isinstance(item, RowProblem):
            problems.add([item])
            continue
        parsed = parse_row(item[1], item[0], keys)
        if isinstance(parsed, list):
            problems.add(parsed)
            continue
        _note(parsed, touched)
        batch.append(parsed.as_row())
        if len(batch) == STAGE_BATCH_ROWS:
            staged += _flush(uow, batch, staged, progress)
    staged += _flush(uow, batch, staged, progress)
    if not staged and not problems.count:
        problems.add([RowProblem(1, None, "empty_file", "the import has no rows")])
    _refuse_if_any(uow, problems)
    return staged, touched


def _note(hour: CemsHour, touched: set[tuple[int, str, date]]) -> None:
    touched.add((hour.outlet_seq, hour.pollutant, local_month(hour.hour)))


def _flush(
    uow: UnitOfWork,
    batch: list[tuple[int, int, str, int, int, int, int, int, str]],
    before: int,
    progress: Progress | None,
) -> int:
    count = len(batch)
    if count:
        uow.monitoring.stage(batch)
        batch.clear()
    if progress is not None:
        progress(before + count)
    return count


def _refuse_if_any(uow: UnitOfWork, problems: _Problems) -> None:
    """Add the set-wise problems (duplicates, conflicts) and refuse if there is any problem."""
    duplicates, first_duplicates = uow.monitoring.duplicate_hours(PROBLEMS_SHOWN_MAX)
    conflicts, first_conflicts = uow.monitoring.conflicting_hours(PROBLEMS_SHOWN_MAX)
    found = [
        RowProblem(
            line,
            "hour_start",
            "duplicate_hour",
            f"the same outlet, pollutant and hour as line {first}",
        )
        for line, first in first_duplicates
    ]
    found += [
        RowProblem(
            line,
            "hour_start",
            "hour_conflicts_with_stored",
            f"this hour is stored already (import {seq}) with other values",
        )
        for line, seq in first_conflicts
    ]
    total = problems.count + duplicates + conflicts
    if total:
        raise CemsImportRefused(problems.merged(found), total)


def _reaggregate(
    uow: UnitOfWork, touched: set[tuple[int, str, date]], outlets: dict[int, OutletInfo]
) -> int:
    """Recompute each touched month from all its stored hours (not only this import's)."""
    now = uow.now()
    for outlet_seq, pollutant, month in sorted(touched):
        outlet = outlets[outlet_seq]
        tally = MonthlyTally(outlet.outlet, pollutant, month, outlet.standard(pollutant))
        for hour in uow.monitoring.hours(outlet_seq, pollutant, *month_hours(month)):
            tally.add(hour)
        uow.monitoring.put_month(outlet_seq, tally.aggregate(), now)
    return len(touched)


# -- reads ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthFilter:
    """Which monthly aggregates to list: months `first`..`last` (first days), optionally one
    enterprise, outlet or pollutant."""

    first: date
    last: date
    party: str | None = None
    outlet: str | None = None
    pollutant: str | None = None


def list_months(
    uow_factory: UnitOfWorkFactory,
    scope: Scope,
    wanted: MonthFilter,
    cursor: str | None,
    limit: int,
) -> list[StoredMonth]:
    """Monthly aggregates of the parties `scope` sees, one page after `cursor`."""
    after = decode_cursor("cems-months", cursor)
    check_page_size(limit)
    party = wanted.party
    if scope.party is not None:
        if party not in (None, scope.party):
            return []
        party = scope.party

    def work(uow: UnitOfWork) -> list[StoredMonth]:
        return uow.monitoring.months(
            party,
            wanted.outlet,
            wanted.pollutant,
            wanted.first,
            wanted.last,
            after=after,
            limit=limit,
            city=scope.city,
        )

    return read(uow_factory, work)
