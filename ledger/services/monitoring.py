"""Use cases of CEMS monitoring: import hourly records (a CSV file or a JSON batch) and read the
monthly aggregates.

An import is all or nothing, in one transaction: every row is parsed and checked
(`ledger.domain.cems.parse_row`), the good ones staged in the database, then hours repeated
within the import and hours stored already with other values are found by set queries. Any
problem refuses the whole import with the first `PROBLEMS_SHOWN_MAX` problems by line and
their total count. Otherwise the new hours are inserted and each touched (outlet, pollutant,
month) is re-aggregated from every stored hour of that month.

Performed by an `Actor` (`cems.import`): only the outlets of the parties its scope sees exist
for it (a row of another enterprise's outlet is `unknown_outlet`); the import is audited in its
transaction, a refused one in a transaction of its own.

Idempotent twice over: bytes (SHA-256) imported before answer the stored import as a replay and
touch nothing (to another principal, only once every row checked out as one it may import); an
hour stored already with the same values is skipped (counted as `unchanged`), with other values
it is a problem (`hour_conflicts_with_stored`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date

from ledger.domain.access import Actor
from ledger.domain.cems import (
    ANALYSER_MAX,
    PROBLEMS_SHOWN_MAX,
    CemsHour,
    CemsImportRefused,
    ImportRecord,
    OutletInfo,
    OutletKey,
    RowProblem,
    StoredMonth,
    local_month,
    month_hours,
    parse_row,
)
from ledger.domain.errors import InvalidField, RecordNotFound, RetryableConflict
from ledger.domain.hourly import MonthOfHours, read_month
from ledger.domain.limits import DATE_MAX
from ledger.domain.monitoring import EmissionStandard
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.permits import Permit, in_force
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.substitution import (
    LOOKAHEAD_HOURS,
    LOOKBACK_HOURS,
    affected_months,
    quarter_end,
)
from ledger.domain.taxed_months import months_as_taxed
from ledger.services.authority import use_case
from ledger.services.transactions import in_transaction, read

STAGE_BATCH_ROWS = 20_000  # rows handed to the database at once (bounded memory)

Rows = Iterable[tuple[int, list[str]] | RowProblem]
"""An import's rows: (line, fields in `FIELDS` order) or a problem that stops the reading."""
RowsSource = Callable[[], Rows]
"""Opens the rows afresh: called once per attempt, so a retried transaction reads them again."""
Progress = Callable[[int], None]
"""Told the number of rows read so far, once per staged batch."""


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


@use_case("cems.import")
def import_cems(  # noqa: PLR0917 - a use case's inputs
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    rows: RowsSource,
    sha256: str,
    source: str,
    progress: Progress | None = None,
) -> Created[ImportRecord]:
    """Import hourly records for the outlets `actor` may see; refuses them all on any problem.

    `rows` is called once per attempt (a retried transaction reads the rows again).
    """

    def work(uow: UnitOfWork) -> Created[ImportRecord]:
        earlier = uow.monitoring.find_import(sha256)
        if earlier is not None and earlier.imported_by == actor.id:
            return Created(earlier, replayed=True)
        outlets = {o.seq: o for o in uow.monitoring.outlets(None, scope=actor.scope)}
        staged, touched = _stage(uow, rows(), outlets, progress)
        if earlier is not None:  # imported by someone else, and every row is the actor's too
            uow.monitoring.end_staging()
            return Created(earlier, replayed=True)
        unchanged = uow.monitoring.unchanged_hours()
        inserted = staged - unchanged
        months = len(touched) if inserted else 0
        record = ImportRecord(
            sha256, source, staged, inserted, unchanged, actor.id, uow.now(), months=months
        )
        seq = uow.monitoring.add_import(record)
        if uow.monitoring.insert_staged(seq) != inserted:  # a concurrent import stored some
            raise RetryableConflict("CEMS hours were stored concurrently; retrying")
        uow.monitoring.end_staging()
        if inserted:
            _reaggregate(uow, touched, outlets)
        return Created(replace(record, seq=seq))

    return in_transaction(uow_factory, work, actor=actor)


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
    """Recompute each touched month from all its stored hours (not only this import's), and
    the months its hours feed through substitution (rules §7.1): the month before (a gap may
    end in this one), the months of its quarter (the capture rate) and the three after (the
    2,160 valid hours of history); each against the standard of the outlet's permit in force
    in that month. Returns how many monthly aggregates were written."""
    now = uow.now()
    affected: dict[tuple[int, str], set[date]] = {}
    for outlet_seq, pollutant, month in touched:
        affected.setdefault((outlet_seq, pollutant), set()).update(affected_months(month))
    permits: dict[int, list[Permit]] = {}
    written = 0
    for (outlet_seq, pollutant), months in sorted(affected.items()):
        outlet = outlets[outlet_seq]
        if outlet_seq not in permits:
            permits[outlet_seq] = uow.permits.permits_of(outlet.party, outlet.outlet)
        first = month_hours(min(months))[0] - LOOKBACK_HOURS
        end = month_hours(quarter_end(max(months)))[1] + LOOKAHEAD_HOURS
        window = uow.monitoring.hours(outlet_seq, pollutant, first, end)
        window.sort(key=lambda hour: hour.hour)
        for standard, governed in _by_standard(permits[outlet_seq], pollutant, months):
            for aggregate in months_as_taxed(
                outlet.outlet, pollutant, governed, standard, window=window
            ):
                uow.monitoring.put_month(outlet_seq, aggregate, now)
                written += 1
    return written


@use_case("cems.recompute")
def recompute_months(uow_factory: UnitOfWorkFactory, actor: Actor, first: date, last: date) -> int:
    """Recompute every stored monthly aggregate of months `first`..`last` (first days) from its
    hours, with the rules in force (e.g. after migration 0015 added substitution and
    exceedances on every reading); one audited transaction. Returns the aggregates written."""

    def work(uow: UnitOfWork) -> int:
        if last < first:  # refused inside the transaction: audited whoever calls
            raise InvalidField("'to' is before 'from'", field="to")
        outlets = {o.seq: o for o in uow.monitoring.outlets(None, scope=actor.scope)}
        seq_of = {(o.party, o.outlet): o.seq for o in outlets.values()}
        touched = {
            (seq_of[(m.party, m.aggregate.outlet)], m.aggregate.pollutant, m.aggregate.month)
            for m in uow.monitoring.months(None, None, None, first, last, scope=actor.scope)
        }
        return _reaggregate(uow, touched, outlets)

    return in_transaction(uow_factory, work, actor=actor)


def _by_standard(
    permits: list[Permit], pollutant: str, months: set[date]
) -> list[tuple[EmissionStandard | None, list[date]]]:
    """`months` grouped by the standard of the permit in force in each (in month order)."""
    groups: dict[EmissionStandard | None, list[date]] = {}
    for month in sorted(months):
        permit = in_force(permits, month)
        groups.setdefault(None if permit is None else permit.standard(pollutant), []).append(month)
    return list(groups.items())


def reaggregate_outlet(
    uow: UnitOfWork, party: str, outlet: str, first: date, later: list[date]
) -> None:
    """Recompute an outlet's stored months from `first` until the earliest of `later` (the next
    permit's month), after a permit changed their standards."""
    info = next(o for o in uow.monitoring.outlets(party) if o.outlet == outlet)
    end = min(later, default=None)
    touched = {
        (info.seq, stored.aggregate.pollutant, stored.aggregate.month)
        for stored in uow.monitoring.months(party, outlet, None, first, DATE_MAX)
        if end is None or stored.aggregate.month < end
    }
    _reaggregate(uow, touched, {info.seq: info})


# -- reads ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthFilter:
    """Which monthly aggregates to list: months `first`..`last` (first days), optionally one
    enterprise, outlet or pollutant, optionally only those with an hourly exceedance."""

    first: date
    last: date
    party: str | None = None
    outlet: str | None = None
    pollutant: str | None = None
    exceeding: bool = False


@use_case("cems.months")
def list_months(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    wanted: MonthFilter,
    cursor: str | None,
    limit: int,
) -> Page[StoredMonth]:
    """Monthly aggregates of the parties the actor sees, one page after `cursor`."""
    after = decode_cursor("cems-months", cursor)
    check_page_size(limit)
    if wanted.last < wanted.first:
        raise InvalidField("'to' is before 'from'", field="to")

    def work(uow: UnitOfWork) -> list[tuple[int, StoredMonth]]:
        found = uow.monitoring.months(
            wanted.party,
            wanted.outlet,
            wanted.pollutant,
            wanted.first,
            wanted.last,
            after=after,
            limit=limit,
            scope=actor.scope,
            exceeding=wanted.exceeding,
        )
        return [(month.seq, month) for month in found]

    return keyset_page("cems-months", read(uow_factory, work), limit)


@use_case("cems.hours")
def month_of_hours(  # noqa: PLR0917 - what names the month
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str,
    outlet: str,
    pollutant: str,
    month: date,
) -> MonthOfHours:
    """One month of an outlet's pollutant hour by hour (`hourly.read_month`). The outlet is
    found among those the actor sees (in SQL): one out of scope is refused like an unknown one."""
    month = month.replace(day=1)

    def work(uow: UnitOfWork) -> MonthOfHours:
        if pollutant not in ANALYSER_MAX:  # what no import accepts has no hour to show
            raise InvalidField(f"{pollutant!r} is no pollutant CEMS measure", field="pollutant")
        found = [o for o in uow.monitoring.outlets(party, scope=actor.scope) if o.outlet == outlet]
        if not found:
            raise RecordNotFound(f"outlet {party}/{outlet} not found", field="outlet")
        info = found[0]
        start, stop = month_hours(month)
        window = uow.monitoring.hours(
            info.seq, pollutant, start - LOOKBACK_HOURS, stop + LOOKAHEAD_HOURS
        )
        stored = uow.monitoring.months(party, outlet, pollutant, month, month, scope=actor.scope)
        exceeding = set(stored[0].aggregate.exceedance_hours) if stored else set()
        permit = in_force(uow.permits.permits_of(party, outlet), month)
        standard = None if permit is None else permit.standard(pollutant)
        return read_month(party, outlet, pollutant, month, standard, window, exceeding)

    return read(uow_factory, work)
