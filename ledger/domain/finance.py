"""Finance: accounting periods and their close, report tables, supply categories, the public
market report's arithmetic, the finance rejections, and the finance repository protocol.

Periods are Beijing calendar periods (UTC+8, no daylight saving): a month `2026-03`, a quarter
`2026-Q1`, a year `2026`, each the half-open instant range [start, end). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from ledger.domain.accounts import Side
from ledger.domain.errors import Kind, LedgerError
from ledger.domain.limits import YEAR_MAX, YEAR_MIN
from ledger.domain.monitoring import CHINA_STANDARD_TIME
from ledger.domain.registry import scale_of, trade_value_fen

BEIJING = CHINA_STANDARD_TIME  # the registry's accounting time zone: monitoring's own


# -- rejections -----------------------------------------------------------------------------


class PeriodClosed(
    LedgerError,
    code="period_closed",
    kind=Kind.UNPROCESSABLE,
    title="The accounting period is closed",
):
    """An entry effective in a closed period; its `period` names the period."""


class PeriodNotEnded(
    LedgerError,
    code="period_not_ended",
    kind=Kind.UNPROCESSABLE,
    title="A period can only be closed after it has ended",
):
    """A period is closed before its end."""


class PeriodNotClosed(
    LedgerError, code="period_not_closed", kind=Kind.CONFLICT, title="The period is not closed"
):
    """A reopen names a period that is not closed."""


class PeriodNotFound(
    LedgerError, code="period_not_found", kind=Kind.NOT_FOUND, title="Period not found"
):
    """A period label is not a month, quarter or year, or names a period that was never closed."""


class StatementInvalid(
    LedgerError,
    code="statement_invalid",
    kind=Kind.INVALID,
    title="The statement file has invalid lines",
):
    """A statement file with bad lines; `errors` lists every one with its line number."""


class UnknownCurrency(
    LedgerError,
    code="unknown_currency",
    kind=Kind.INVALID,
    title="The statement's currency is not a cash instrument of the ledger",
):
    """A statement's currency is not a cash instrument, or not the currency of the import."""


class StatementLinesAlreadyImported(
    LedgerError,
    code="statement_lines_already_imported",
    kind=Kind.CONFLICT,
    title="Lines of this statement were already imported from another file",
):
    """A statement file, or some of its lines, was already imported."""


class ReconciliationNotFound(
    LedgerError,
    code="reconciliation_not_found",
    kind=Kind.NOT_FOUND,
    title="Reconciliation or statement not found",
):
    """The reconciliation or statement import named does not exist."""


class ReconciliationConfirmed(
    LedgerError,
    code="reconciliation_confirmed",
    kind=Kind.CONFLICT,
    title="The reconciliation is confirmed and frozen",
):
    """A confirmed reconciliation is matched, unmatched or confirmed again (its rows are also
    guarded by a database trigger)."""


class MatchInvalid(
    LedgerError,
    code="match_invalid",
    kind=Kind.UNPROCESSABLE,
    title="These items cannot be matched",
):
    """A match names no line or no posting, or ones not unmatched in this reconciliation; or an
    unmatch names no active match."""


# -- periods ------------------------------------------------------------------------------


class PeriodKind(Enum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


# Years 2000–2100 (checked after the pattern), the range of every date the ledger accepts.
_LABEL = re.compile(r"^([12]\d{3})(?:-(\d{2})|-Q([1-4]))?$", flags=re.ASCII)


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month, quarter or year in Beijing time: instants in [starts_at, ends_at)."""

    label: str
    kind: PeriodKind
    starts_at: datetime
    ends_at: datetime


def _beijing_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BEIJING)


def parse_period(label: str) -> Period:
    """`2026-03` (month), `2026-Q1` (quarter) or `2026` (year)."""
    found = _LABEL.match(label)
    if (
        found is None
        or (found.group(2) and not 1 <= int(found.group(2)) <= 12)
        or not YEAR_MIN <= int(found.group(1)) <= YEAR_MAX
    ):
        raise PeriodNotFound(
            f"{label!r} is not a period: use 2026-03, 2026-Q1 or 2026", field="period"
        )
    year = int(found.group(1))
    if found.group(2):
        kind, first, months = PeriodKind.MONTH, int(found.group(2)), 1
    elif found.group(3):
        kind, first, months = PeriodKind.QUARTER, 3 * int(found.group(3)) - 2, 3
    else:
        kind, first, months = PeriodKind.YEAR, 1, 12
    end_month = first + months
    end = date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return Period(label, kind, _beijing_midnight(date(year, first, 1)), _beijing_midnight(end))


def quarter_label(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def beijing_date(moment: datetime) -> date:
    """The Beijing calendar day of an instant (statements, matching and periods use it)."""
    return moment.astimezone(BEIJING).date()


def end_of_day(day: date) -> datetime:
    """The first instant after the Beijing day `day`: 'as of 2026-03-31' means before it."""
    return _beijing_midnight(day + timedelta(days=1))


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """The instants of the Beijing days first..last, both included: [start, end)."""
    return _beijing_midnight(first), end_of_day(last)


class PeriodState(Enum):
    CLOSED = "closed"
    OPEN = "open"  # reopened after a close


@dataclass(frozen=True, slots=True)
class PeriodRecord:
    """A period that has been closed (and perhaps reopened since)."""

    period: Period
    state: PeriodState
    closed_by: str
    closed_at: datetime
    entries_at_close: int  # entries effective in the period when it was closed
    reopened_by: str | None = None
    reopened_at: datetime | None = None
    reason: str = ""


def closed_period_error(label: str, *, field: str | None = "effective_at") -> PeriodClosed:
    return PeriodClosed(
        f"period {label} is closed: post the correction into an open period, referencing the "
        "entry it corrects",
        field=field,
        period=label,
    )


# -- report tables ------------------------------------------------------------------------


class ColumnKind(Enum):
    TEXT = "text"
    AMOUNT = "amount"  # an exact Decimal in the row's unit
    INTEGER = "integer"
    DATE = "date"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: ColumnKind = ColumnKind.TEXT
    summed: bool = False  # totals are meaningful (one unit for every row)


Cell = str | int | Decimal | date | datetime | None


@dataclass
class ReportTable:
    """A report as named columns and lazily produced rows, with totals of the summed columns.

    Rows are produced a page at a time, so a CSV or XLSX export holds one page in memory; the
    totals are complete once `rows` has been exhausted. `row_count`, where given, tells how many
    rows a lazily produced report will yield (one more query: asked only by an export that shows
    its progress); `size` answers it, or the length of rows read whole.
    """

    name: str
    columns: tuple[Column, ...]
    rows: Iterable[tuple[Cell, ...]]
    parameters: dict[str, str] = field(default_factory=dict)
    totals: dict[str, Decimal | int] = field(default_factory=dict)
    row_count: Callable[[], int] | None = None

    def size(self) -> int | None:
        """How many rows the report has, when that can be known before reading them."""
        if isinstance(self.rows, Sized):
            return len(self.rows)
        return None if self.row_count is None else self.row_count()

    def __iter__(self) -> Iterator[tuple[Cell, ...]]:
        summed = [(i, c.name) for i, c in enumerate(self.columns) if c.summed]
        totals: dict[str, Decimal | int] = {name: 0 for _, name in summed}
        self.totals = totals
        for row in self.rows:
            for index, name in summed:
                value = row[index]
                if isinstance(value, Decimal | int):
                    totals[name] += value
            yield row


# -- supply ---------------------------------------------------------------------------------

SUPPLY_CATEGORIES = (
    "held",
    "pledged",
    "surrendered",
    "retired",
    "cancelled",
    "in_reserve",
    "other",
)
_CATEGORY_OF_SUFFIX = {
    "holdings": "held",
    "pledged": "pledged",
    "surrendered": "surrendered",
    "retirement": "retired",
    "cancellation": "cancelled",
    "reserve": "in_reserve",
}


def supply_category(account_code: str) -> str:
    """Where an account's balance counts in the supply report ('issued' for issuance)."""
    suffix = account_code.rpartition(":")[2]
    if suffix == "issuance":
        return "issued"
    return _CATEGORY_OF_SUFFIX.get(suffix, "other")


@dataclass(frozen=True, slots=True)
class SupplyLine:
    """Supply of one instrument in units: issued − Σ categories must be zero."""

    instrument_code: str
    issued: int
    categories: Mapping[str, int]

    @property
    def difference(self) -> int:
        return self.issued - sum(self.categories.values())


def supply_line(instrument_code: str, nets: Iterable[tuple[str, Side, int, int]]) -> SupplyLine:
    """From (account, normal side, debits, credits): issuance's debit balance is the issued
    total; every other account counts its credit balance (credits − debits) in its category."""
    issued = 0
    categories = dict.fromkeys(SUPPLY_CATEGORIES, 0)
    for account_code, _, debits, credits in nets:
        category = supply_category(account_code)
        if category == "issued":
            issued += debits - credits
        else:
            categories[category] += credits - debits
    return SupplyLine(instrument_code, issued, categories)


# -- the public market report ---------------------------------------------------------------


def volume_weighted_price_fen(value_fen: int, volume_units: int, scale: int) -> int | None:
    """Σ value / Σ volume in fen per unit of the instrument (t or tCO2), half-up to the fen;
    None without volume."""
    if volume_units == 0:
        return None
    exact = Decimal(value_fen) / Decimal(volume_units).scaleb(-scale)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class MarketTrade:
    """A settled trade as the public report reads it: its parties are counted (for
    suppression), never shown. `reserve`: sold from a government reserve (its seller is an
    authority), reported apart from bilateral trades; so is a reserve operation's sale, whose
    `value_fen` is its entry's cash leg (its price is not stored apart). `buy_back`: a
    reserve's buy-back (the authority buys, paying public money), reported apart from both."""

    trade_date: date
    family: str
    units: int
    price_fen: int
    seller: str = ""
    buyer: str = ""
    reserve: bool = False
    buy_back: bool = False
    value_fen: int | None = None  # None: price × units

    @property
    def value(self) -> int:
        """What changed hands, in fen (price × t/a, once for all the vintages)."""
        if self.value_fen is not None:
            return self.value_fen
        return trade_value_fen(self.price_fen, self.units, scale_of(self.family))


# Rules §7.11: a cell of the public market report with fewer trades, or fewer distinct
# parties (sellers and buyers together), shows none of its figures.
MARKET_MIN_TRADES = 3
MARKET_MIN_PARTIES = 3


def suppressed(trades: int, parties: int) -> bool:
    """Whether a market cell of `trades` trades among `parties` distinct parties is hidden."""
    return trades < MARKET_MIN_TRADES or parties < MARKET_MIN_PARTIES


def quarter_bounds(first: date, last: date) -> tuple[date, date]:
    """`first`..`last` widened to whole calendar quarters: a cell always covers its whole
    quarter, so that two reports over overlapping ranges cannot be subtracted to reveal a
    single trade."""
    start = date(first.year, 3 * ((first.month - 1) // 3) + 1, 1)
    end_month = 3 * ((last.month - 1) // 3) + 3
    following = date(last.year + (end_month == 12), end_month % 12 + 1, 1)
    return start, following - timedelta(days=1)


# -- the repository -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountNet:
    """Posted debit and credit totals of one account in one instrument, as of an instant."""

    account_code: str
    party: str
    normal_side: Side
    instrument_code: str
    debits: int
    credits: int


@dataclass(frozen=True, slots=True)
class MovementLine:
    """One posted movement of an account on the effective axis."""

    posting_id: int
    entry_id: str
    entry_type: str
    effective_at: datetime
    recorded_at: datetime
    side: Side
    units: int
