"""Reconciliation against outside records: parsing a statement file, and matching its lines with
the ledger's cash postings.

A statement line's amount is signed from the account holder's view (+ money in, − money out),
in fen. A ledger posting counts + when it is on its account's normal side (it raises the
balance), − otherwise. Matching is deterministic, in three passes (see `auto_match`). Pure.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ledger.domain.bounds import unstorable
from ledger.domain.finance import StatementInvalid
from ledger.domain.limits import DATE_MAX, DATE_MIN

STATEMENT_LINES_MAX = 100_000
COLUMNS = ("date", "reference", "amount", "counterparty", "description")
ERRORS_SHOWN_MAX = 20  # a file with thousands of bad lines: the first ones say enough
SPLIT_CANDIDATES_MAX = 24  # items considered per split search: C(24, 3) = 2,024 sums at most
SPLIT_PARTS_MAX = 3
_AMOUNT = re.compile(r"^[+-]?[0-9]{1,16}(\.[0-9]{1,2})?$", flags=re.ASCII)
_LENGTHS = {"reference": 128, "counterparty": 200, "description": 500}


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One line of an outside statement as imported (`line_no`: its line in the file)."""

    line_no: int
    booked_on: date
    reference: str
    amount_fen: int
    counterparty: str
    description: str

    def fingerprint(self, account_code: str) -> str:
        """Identity of the line across files: the same movement imported twice is refused."""
        text = "\x1f".join(
            (
                account_code,
                self.booked_on.isoformat(),
                self.reference,
                str(self.amount_fen),
                self.counterparty,
                self.description,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ParsedStatement:
    lines: tuple[StatementLine, ...]
    currencies: frozenset[str]  # named in a `currency` column, if the file has one


def parse_statement(content: bytes) -> ParsedStatement:
    """Every line of a CSV statement (header: date, reference, amount, counterparty,
    description, optionally currency), or `statement_invalid` listing every bad line."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StatementInvalid(
            f"the file is not UTF-8 (byte {error.start})", field="line 1"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = [name.strip().lower() for name in reader.fieldnames or ()]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise StatementInvalid(f"line 1: missing columns {missing}", field="line 1")
    reader.fieldnames = header
    lines: list[StatementLine] = []
    currencies: set[str] = set()
    errors: list[str] = []
    seen: dict[tuple[object, ...], int] = {}
    try:
        for row in reader:
            line_no = reader.line_num
            if len(lines) + len(errors) >= STATEMENT_LINES_MAX:
                errors.append(f"line {line_no}: more than {STATEMENT_LINES_MAX} lines")
                break
            line = _line(line_no, row, errors)
            if row.get("currency") is not None:
                currencies.add((row.get("currency") or "").strip().upper())
            if line is None:
                continue
            key = (
                line.booked_on,
                line.reference,
                line.amount_fen,
                line.counterparty,
                line.description,
            )
            if key in seen:
                errors.append(f"line {line_no}: duplicate of line {seen[key]}")
                continue
            seen[key] = line_no
            lines.append(line)
    except csv.Error as error:
        errors.append(f"line {reader.line_num}: {error}")
    _raise_if(errors)
    if not lines:
        raise StatementInvalid("the statement has no lines", field="line 2")
    return ParsedStatement(tuple(lines), frozenset(currencies))


def _raise_if(errors: Sequence[str]) -> None:
    if not errors:
        return
    shown = "; ".join(errors[:ERRORS_SHOWN_MAX])
    more = f" (and {len(errors) - ERRORS_SHOWN_MAX} more)" if len(errors) > ERRORS_SHOWN_MAX else ""
    first = errors[0].partition(":")[0]
    raise StatementInvalid(f"{len(errors)} bad lines: {shown}{more}", field=first, errors=errors)


def _line(
    line_no: int, row: dict[str | None, str | None], errors: list[str]
) -> StatementLine | None:
    if None in row:  # more cells than the header names
        errors.append(f"line {line_no}: more cells than columns")
        return None
    cells = {name: (row.get(name) or "").strip() for name in COLUMNS}
    problems = []
    booked_on = None
    try:
        booked_on = date.fromisoformat(cells["date"]) if len(cells["date"]) == 10 else None
    except ValueError:
        booked_on = None
    if booked_on is None:
        problems.append(f"malformed date {cells['date']!r} (YYYY-MM-DD)")
    elif not DATE_MIN <= booked_on <= DATE_MAX:
        problems.append(f"date {cells['date']} outside {DATE_MIN} to {DATE_MAX}")
        booked_on = None
    amount_fen = _amount_fen(cells["amount"])
    if amount_fen is None:
        problems.append(f"malformed amount {cells['amount']!r} (such as -1234.56, not zero)")
    for name, length in _LENGTHS.items():
        if len(cells[name]) > length:
            problems.append(f"{name} longer than {length} characters")
        why = unstorable(cells[name])
        if why is not None:
            problems.append(f"{name} {why}")
    if problems or booked_on is None or amount_fen is None:
        errors.append(f"line {line_no}: " + ", ".join(problems))
        return None
    return StatementLine(
        line_no,
        booked_on,
        cells["reference"],
        amount_fen,
        cells["counterparty"],
        cells["description"],
    )


def _amount_fen(text: str) -> int | None:
    """A signed CNY amount with at most 2 places as fen; None if malformed or zero (exact)."""
    if not _AMOUNT.fullmatch(text):
        return None
    fen = int(Decimal(text).scaleb(2))
    return fen or None


# -- matching -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far an amount-and-date match may be off: in fen and in calendar days."""

    amount_fen: int = 0
    days: int = 0


@dataclass(frozen=True, slots=True)
class ExternalItem:
    """A statement line to match (`id`: its stored id)."""

    id: int
    on: date
    reference: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class LedgerItem:
    """A cash posting to match: its entry id and references are the keys a reference matches."""

    id: int  # posting id
    entry_id: str
    keys: frozenset[str]
    on: date
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Match:
    """Statement lines and postings that settle each other; difference = Σ lines − Σ postings."""

    line_ids: tuple[int, ...]
    posting_ids: tuple[int, ...]
    method: str  # reference | amount_date | split | manual
    difference_fen: int


def auto_match(
    lines: Sequence[ExternalItem], items: Sequence[LedgerItem], tolerance: Tolerance
) -> list[Match]:
    """Match in passes, each only over what is still unmatched:

    1. by reference: every line carrying reference R against every posting whose entry id or
       entry reference is R, when the sums agree within the amount tolerance (1:1, 1:n, n:1);
    2. one to one by amount and date: first exact amounts, then within the tolerances, each line
       taking the closest posting (amount, then days, then posting id);
    3. splits: a line against 2–3 postings (or a posting against 2–3 lines) within the date
       tolerance whose sum is within the amount tolerance, the closest sum first.
    """
    state = _Unmatched(list(lines), list(items))
    matches = _by_reference(state, tolerance)
    matches += _one_to_one(state, Tolerance(0, tolerance.days), "amount_date")
    matches += _one_to_one(state, tolerance, "amount_date")
    matches += _splits(state, tolerance)
    return matches


class _Unmatched:
    def __init__(self, lines: list[ExternalItem], items: list[LedgerItem]) -> None:
        self.lines = {line.id: line for line in sorted(lines, key=lambda x: (x.on, x.id))}
        self.items = {item.id: item for item in sorted(items, key=lambda x: (x.on, x.id))}

    def take(
        self, lines: Sequence[ExternalItem], items: Sequence[LedgerItem], method: str
    ) -> Match:
        for line in lines:
            del self.lines[line.id]
        for item in items:
            del self.items[item.id]
        difference = sum(x.amount_fen for x in lines) - sum(x.amount_fen for x in items)
        return Match(tuple(x.id for x in lines), tuple(x.id for x in items), method, difference)


def _by_reference(state: _Unmatched, tolerance: Tolerance) -> list[Match]:
    matches = []
    references = dict.fromkeys(line.reference for line in state.lines.values() if line.reference)
    for reference in references:
        lines = [x for x in state.lines.values() if x.reference == reference]
        items = [x for x in state.items.values() if reference in x.keys]
        if not items:
            continue
        difference = sum(x.amount_fen for x in lines) - sum(x.amount_fen for x in items)
        if abs(difference) <= tolerance.amount_fen:
            matches.append(state.take(lines, items, "reference"))
    return matches


def _close(line: ExternalItem, item: LedgerItem, tolerance: Tolerance) -> bool:
    return (
        abs(line.amount_fen - item.amount_fen) <= tolerance.amount_fen
        and abs((line.on - item.on).days) <= tolerance.days
    )


def _one_to_one(state: _Unmatched, tolerance: Tolerance, method: str) -> list[Match]:
    matches = []
    for line in list(state.lines.values()):
        candidates = [item for item in state.items.values() if _close(line, item, tolerance)]
        if candidates:
            best = min(
                candidates,
                key=lambda x: (
                    abs(line.amount_fen - x.amount_fen),
                    abs((line.on - x.on).days),
                    x.id,
                ),
            )
            matches.append(state.take([line], [best], method))
    return matches


def _best_subset(target: int, candidates: Sequence[tuple[int, int]], limit: int) -> tuple[int, ...]:
    """Ids of 2–3 candidates (id, amount) whose sum is closest to `target` within `limit`."""
    best: tuple[tuple[int, int], tuple[int, ...]] | None = None
    for size in range(2, SPLIT_PARTS_MAX + 1):
        for combination in itertools.combinations(candidates[:SPLIT_CANDIDATES_MAX], size):
            off = abs(target - sum(amount for _, amount in combination))
            if off <= limit and (best is None or (off, size) < best[0]):
                best = ((off, size), tuple(item_id for item_id, _ in combination))
    return () if best is None else best[1]


def _splits(state: _Unmatched, tolerance: Tolerance) -> list[Match]:
    matches = []
    for line in list(state.lines.values()):
        near = [
            (x.id, x.amount_fen)
            for x in state.items.values()
            if abs((line.on - x.on).days) <= tolerance.days
            and (x.amount_fen > 0) == (line.amount_fen > 0)
        ]
        chosen = _best_subset(line.amount_fen, near, tolerance.amount_fen)
        if chosen:
            matches.append(state.take([line], [state.items[i] for i in chosen], "split"))
    for item in list(state.items.values()):
        near = [
            (x.id, x.amount_fen)
            for x in state.lines.values()
            if abs((item.on - x.on).days) <= tolerance.days
            and (x.amount_fen > 0) == (item.amount_fen > 0)
        ]
        chosen = _best_subset(item.amount_fen, near, tolerance.amount_fen)
        if chosen:
            matches.append(state.take([state.lines[i] for i in chosen], [item], "split"))
    return matches


def unmatched(
    lines: Iterable[ExternalItem], items: Iterable[LedgerItem], matches: Sequence[Match]
) -> tuple[list[ExternalItem], list[LedgerItem]]:
    """Lines and postings in no match."""
    matched_lines = {i for m in matches for i in m.line_ids}
    matched_items = {i for m in matches for i in m.posting_ids}
    return (
        [x for x in lines if x.id not in matched_lines],
        [x for x in items if x.id not in matched_items],
    )


# -- records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementImport:
    """An imported statement file; `sha256` of its bytes makes a re-import idempotent."""

    id: str
    account_code: str
    source: str  # bank | exchange
    currency: str
    filename: str
    sha256: str
    line_count: int
    first_date: date
    last_date: date
    imported_by: str
    imported_at: datetime


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """A statement reconciled against an account's postings in one currency; frozen once
    confirmed."""

    id: str
    import_id: str
    account_code: str
    currency: str
    tolerance: Tolerance
    window_start: date
    window_end: date
    state: str  # open | confirmed
    created_by: str
    created_at: datetime
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """A stored match (active unless unmatched); a manual one carries its client's id."""

    id: int
    match: Match
    reason: str
    created_by: str
    created_at: datetime
    client_id: str | None = None
