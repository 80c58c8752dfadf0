"""Reconciliation: import an outside statement (bank or exchange CSV), match it against an
account's cash postings, match and unmatch by hand with a reason, report what is left, confirm.

An import is all or nothing and idempotent: the file is parsed and checked whole before anything
is written; the same bytes again return the first import; a line already imported from another
file is refused with its line numbers. A confirmed reconciliation is frozen (the database refuses
any change to it, its matches or their items).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from ledger.domain.access import Principal
from ledger.domain.amounts import InstrumentKind
from ledger.domain.errors import InvalidField, RecordExists, UnknownAccount
from ledger.domain.finance import (
    MatchInvalid,
    ReconciliationConfirmed,
    ReconciliationNotFound,
    StatementLinesAlreadyImported,
    UnknownCurrency,
    day_range,
)
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.reconciliation import (
    ExternalItem,
    LedgerItem,
    Match,
    MatchRecord,
    Reconciliation,
    StatementImport,
    StatementLine,
    Tolerance,
    auto_match,
    parse_statement,
    unmatched,
)
from ledger.services.transactions import in_transaction, read

SOURCES = ("bank", "exchange")
TOLERANCE_DAYS_MAX = 31
REASON_LENGTH_MAX = 400


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    """A reconciliation with every line and posting of its window, what matched and what not."""

    reconciliation: Reconciliation
    lines: dict[int, StatementLine]
    items: dict[int, LedgerItem]
    matches: list[MatchRecord]
    unmatched_lines: list[int]
    unmatched_postings: list[int]

    @property
    def differences(self) -> list[MatchRecord]:
        return [m for m in self.matches if m.match.difference_fen]

    @property
    def statement_total_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines.values())

    @property
    def ledger_total_fen(self) -> int:
        return sum(item.amount_fen for item in self.items.values())


# -- import ---------------------------------------------------------------------------------


def import_statement(  # noqa: PLR0917 - what an import is
    uow_factory: UnitOfWorkFactory,
    actor: Principal,
    account_code: str,
    source: str,
    filename: str,
    content: bytes,
    currency: str = "CNY",
) -> tuple[StatementImport, bool]:
    """Import a statement file whole; (the import, True) if these bytes were imported before."""
    if source not in SOURCES:
        raise InvalidField(f"source is one of {SOURCES}", field="source")
    sha256 = hashlib.sha256(content).hexdigest()
    parsed = parse_statement(content)  # every line checked before anything is written
    others = sorted(parsed.currencies - {currency.upper()})
    if others:
        raise UnknownCurrency(
            f"the statement names {others}; this import is in {currency}", field="currency"
        )

    def work(uow: UnitOfWork) -> tuple[StatementImport, bool]:
        existing = uow.finance.find_import(sha256)
        if existing is not None:
            return _replayed(existing, account_code)
        _check_account(uow, account_code, currency)
        keyed = [(line, line.fingerprint(account_code)) for line in parsed.lines]
        _check_not_imported(uow, keyed)
        record = StatementImport(
            id=f"stmt-{sha256[:16]}",
            account_code=account_code,
            source=source,
            currency=currency,
            filename=filename[:200],
            sha256=sha256,
            line_count=len(keyed),
            first_date=min(line.booked_on for line in parsed.lines),
            last_date=max(line.booked_on for line in parsed.lines),
            imported_by=actor.id,
            imported_at=uow.now(),
        )
        uow.finance.add_import(record, keyed)
        return record, False

    try:
        return in_transaction(uow_factory, work)
    except RecordExists:  # the same file imported concurrently: the other import won
        return in_transaction(uow_factory, work)


def _replayed(existing: StatementImport, account_code: str) -> tuple[StatementImport, bool]:
    if existing.account_code != account_code:
        raise StatementLinesAlreadyImported(
            f"this file was imported as {existing.id} for {existing.account_code}",
            field="account",
        )
    return existing, True


def _check_account(uow: UnitOfWork, account_code: str, currency: str) -> None:
    if account_code not in uow.accounts.cached([account_code]):
        raise UnknownAccount(f"no account {account_code!r}", field="account")
    instrument = uow.instruments.get_many([currency]).get(currency)
    if instrument is None or instrument.kind is not InstrumentKind.CASH:
        raise UnknownCurrency(f"{currency!r} is not a cash instrument", field="currency")


def _check_not_imported(uow: UnitOfWork, keyed: Sequence[tuple[StatementLine, str]]) -> None:
    clashes = uow.finance.imported_fingerprints([fingerprint for _, fingerprint in keyed])
    if clashes:
        found = [
            f"line {line.line_no} (imported as line {clashes[fp][1]} of {clashes[fp][0]})"
            for line, fp in keyed
            if fp in clashes
        ]
        raise StatementLinesAlreadyImported(
            f"{len(found)} lines were already imported: " + "; ".join(found[:20]),
            field=f"line {keyed[0][0].line_no}" if not found else found[0].split(" (")[0],
        )


# -- reconciliation ---------------------------------------------------------------------------


def start_reconciliation(
    uow_factory: UnitOfWorkFactory,
    actor: Principal,
    import_id: str,
    tolerance: Tolerance,
) -> ReconciliationReport:
    """Reconcile an imported statement against its account, matching automatically; a second
    start of the same import returns the reconciliation as it stands."""
    if not (0 <= tolerance.days <= TOLERANCE_DAYS_MAX and tolerance.amount_fen >= 0):
        raise InvalidField(f"tolerances: fen ≥ 0, days 0–{TOLERANCE_DAYS_MAX}", field="tolerance")
    reconciliation_id = "rec-" + import_id.removeprefix("stmt-")

    def work(uow: UnitOfWork) -> ReconciliationReport:
        if uow.finance.get_reconciliation(reconciliation_id) is not None:
            return _report(uow, reconciliation_id)  # started already: a retry
        statement = uow.finance.get_import(import_id)
        if statement is None:
            raise ReconciliationNotFound(f"no statement import {import_id!r}", field="import_id")
        margin = timedelta(days=tolerance.days)
        record = Reconciliation(
            reconciliation_id,
            import_id,
            statement.account_code,
            statement.currency,
            tolerance,
            statement.first_date - margin,
            statement.last_date + margin,
            "open",
            actor.id,
            uow.now(),
        )
        uow.finance.add_reconciliation(record)
        lines, items = _candidates(uow, record)
        externals = [
            ExternalItem(line_id, line.booked_on, line.reference, line.amount_fen)
            for line_id, line in lines.items()
        ]
        for match in auto_match(externals, list(items.values()), tolerance):
            uow.finance.add_match(record.id, match, "", actor.id, record.created_at)
        return _report(uow, reconciliation_id)

    return in_transaction(uow_factory, work)


def _candidates(
    uow: UnitOfWork, record: Reconciliation
) -> tuple[dict[int, StatementLine], dict[int, LedgerItem]]:
    lines = dict(uow.finance.import_lines(record.import_id))
    account = uow.accounts.cached([record.account_code])[record.account_code]
    window = day_range(record.window_start, record.window_end)
    items = uow.finance.ledger_items(account.id, record.currency, window)
    return lines, {item.id: item for item in items}


def get_report(uow_factory: UnitOfWorkFactory, reconciliation_id: str) -> ReconciliationReport:
    """The reconciliation with what matched, what did not on either side, and differences."""
    return read(uow_factory, lambda uow: _report(uow, reconciliation_id))


def _record(uow: UnitOfWork, reconciliation_id: str, *, lock: bool = False) -> Reconciliation:
    record = uow.finance.get_reconciliation(reconciliation_id, lock=lock)
    if record is None:
        raise ReconciliationNotFound(
            f"no reconciliation {reconciliation_id!r}", field="reconciliation_id"
        )
    return record


def _report(uow: UnitOfWork, reconciliation_id: str) -> ReconciliationReport:
    """Everything a report shows, built in one unit of work (the caller's)."""
    record = _record(uow, reconciliation_id)
    lines, items = _candidates(uow, record)
    matches = uow.finance.active_matches(reconciliation_id)
    externals = [ExternalItem(i, x.booked_on, x.reference, x.amount_fen) for i, x in lines.items()]
    left_lines, left_items = unmatched(externals, items.values(), [m.match for m in matches])
    return ReconciliationReport(
        record,
        lines,
        items,
        matches,
        [x.id for x in left_lines],
        [x.id for x in left_items],
    )


def match_manually(  # noqa: PLR0917 - what a manual match is
    uow_factory: UnitOfWorkFactory,
    actor: Principal,
    reconciliation_id: str,
    line_ids: Sequence[int],
    posting_ids: Sequence[int],
    reason: str,
) -> ReconciliationReport:
    """Match unmatched statement lines with unmatched postings of the window, with a reason."""
    _check_reason(reason)

    def work(uow: UnitOfWork) -> ReconciliationReport:
        _open(uow, reconciliation_id)
        report = _report(uow, reconciliation_id)
        free_lines, free_items = set(report.unmatched_lines), set(report.unmatched_postings)
        if not line_ids or not posting_ids:
            raise MatchInvalid("a match names at least one line and one posting", field="lines")
        if not set(line_ids) <= free_lines or len(set(line_ids)) != len(line_ids):
            raise MatchInvalid(
                f"lines {sorted(set(line_ids) - free_lines)} are not unmatched lines of "
                "this statement",
                field="lines",
            )
        if not set(posting_ids) <= free_items or len(set(posting_ids)) != len(posting_ids):
            raise MatchInvalid(
                f"postings {sorted(set(posting_ids) - free_items)} are not unmatched postings "
                "of this reconciliation's window",
                field="postings",
            )
        difference = sum(report.lines[i].amount_fen for i in line_ids) - sum(
            report.items[i].amount_fen for i in posting_ids
        )
        match = Match(tuple(line_ids), tuple(posting_ids), "manual", difference)
        uow.finance.add_match(reconciliation_id, match, reason, actor.id, uow.now())
        return _report(uow, reconciliation_id)

    return in_transaction(uow_factory, work)


def unmatch(
    uow_factory: UnitOfWorkFactory,
    actor: Principal,
    reconciliation_id: str,
    match_id: int,
    reason: str,
) -> ReconciliationReport:
    """Undo a match (automatic or manual), with a reason; its items are unmatched again."""
    _check_reason(reason)

    def work(uow: UnitOfWork) -> ReconciliationReport:
        _open(uow, reconciliation_id)
        if match_id not in {m.id for m in uow.finance.active_matches(reconciliation_id)}:
            raise MatchInvalid(f"no active match {match_id} in {reconciliation_id}", field="match")
        uow.finance.unmatch(match_id, actor.id, uow.now(), reason)
        return _report(uow, reconciliation_id)

    return in_transaction(uow_factory, work)


def confirm(
    uow_factory: UnitOfWorkFactory, actor: Principal, reconciliation_id: str
) -> ReconciliationReport:
    """Confirm the reconciliation as it stands; from then on it is frozen."""

    def work(uow: UnitOfWork) -> ReconciliationReport:
        _open(uow, reconciliation_id)
        uow.finance.confirm_reconciliation(reconciliation_id, actor.id, uow.now())
        return _report(uow, reconciliation_id)

    return in_transaction(uow_factory, work)


def _open(uow: UnitOfWork, reconciliation_id: str) -> Reconciliation:
    """The reconciliation, its row locked; refused once confirmed."""
    record = _record(uow, reconciliation_id, lock=True)
    if record.state == "confirmed":
        raise ReconciliationConfirmed(
            f"reconciliation {reconciliation_id} was confirmed by {record.confirmed_by}: "
            "it is frozen",
            field="reconciliation_id",
        )
    return record


def _check_reason(reason: str) -> None:
    if not reason.strip() or len(reason) > REASON_LENGTH_MAX:
        raise InvalidField(
            f"a reason of 1–{REASON_LENGTH_MAX} characters is required", field="reason"
        )
