"""Reconciliation: import an outside statement (bank or exchange CSV), match it against an
account's cash postings, match and unmatch by hand with a reason, report what is left, confirm.

An import is all or nothing and idempotent: the file is parsed and checked whole before anything
is written; the same bytes again return the first import; a line already imported from another
file is refused with its line numbers. A confirmed reconciliation is frozen (the database refuses
any change to it, its matches or their items).

Each is a use case of its actor (finance staff write, oversight reads), audited in the write's
own transaction. The three creates are retryable: an import is named by its file's SHA-256, a
reconciliation by its import, a manual match by the client's id; an identical retry answers the
stored record as a replay, another request under the same name is `RecordExists` (409).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from ledger.domain.access import Actor
from ledger.domain.amounts import InstrumentKind
from ledger.domain.errors import InvalidField, LedgerError, RecordExists, UnknownAccount
from ledger.domain.finance import (
    MatchInvalid,
    ReconciliationConfirmed,
    ReconciliationNotFound,
    StatementLinesAlreadyImported,
    UnknownCurrency,
    day_range,
)
from ledger.domain.pages import Created
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.reconciliation import (
    ExternalItem,
    LedgerItem,
    Match,
    MatchRecord,
    ParsedStatement,
    Reconciliation,
    StatementImport,
    StatementLine,
    Tolerance,
    auto_match,
    parse_statement,
    unmatched,
)
from ledger.services.authority import sees, use_case
from ledger.services.transactions import in_transaction, read, rejected

SOURCES = ("bank", "exchange")
TOLERANCE_DAYS_MAX = 31
REASON_LENGTH_MAX = 400
CLIENT_ID_LENGTH_MAX = 40
T = TypeVar("T")


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


@use_case("statements.import")
def import_statement(  # noqa: PLR0917 - what an import is
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    account_code: str,
    source: str,
    filename: str,
    content: bytes,
    currency: str = "CNY",
) -> Created[StatementImport]:
    """Import a statement file whole. The same bytes again for the same account, source and
    currency answer the first import (a replay, whatever the file is called now); for another
    account, source or currency, `RecordExists`."""
    try:
        parsed = _parsed(source, content, currency)
    except LedgerError as error:  # refused before any transaction: audited here
        rejected(uow_factory, actor, error)
        raise
    sha256 = hashlib.sha256(content).hexdigest()

    def work(uow: UnitOfWork) -> Created[StatementImport]:
        _check_account(uow, actor, account_code, currency)
        keyed = [(line, line.fingerprint(account_code)) for line in parsed.lines]
        clashes = uow.finance.imported_fingerprints([fingerprint for _, fingerprint in keyed])
        # Looked up after the lines: the same file committed meanwhile by a racing import
        # shows here too, and is answered as a replay rather than as lines imported already.
        existing = uow.finance.find_import(sha256)
        if existing is not None:
            return _replayed(existing, account_code, source, currency)
        _check_not_imported(keyed, clashes)
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
        return Created(record)

    return in_transaction(uow_factory, work, actor=actor)


def _parsed(source: str, content: bytes, currency: str) -> ParsedStatement:
    """The whole file checked (every bad line named) before any transaction starts."""
    if source not in SOURCES:
        raise InvalidField(f"source is one of {SOURCES}", field="source")
    parsed = parse_statement(content)
    others = sorted(parsed.currencies - {currency.upper()})
    if others:
        raise UnknownCurrency(
            f"the statement names {others}; this import is in {currency}", field="currency"
        )
    return parsed


def _replayed(
    existing: StatementImport, account_code: str, source: str, currency: str
) -> Created[StatementImport]:
    asked = {"account": account_code, "source": source, "currency": currency}
    stored = {
        "account": existing.account_code,
        "source": existing.source,
        "currency": existing.currency,
    }
    for name, value in asked.items():
        if stored[name] != value:
            raise RecordExists(
                f"this file was imported as {existing.id} with another {name}", field=name
            )
    return Created(existing, replayed=True)


def _check_account(uow: UnitOfWork, actor: Actor, account_code: str, currency: str) -> None:
    account = uow.accounts.cached([account_code]).get(account_code)
    if account is None or not sees(uow, actor, account.party):
        raise UnknownAccount(f"no account {account_code!r}", field="account")
    instrument = uow.instruments.get_many([currency]).get(currency)
    if instrument is None or instrument.kind is not InstrumentKind.CASH:
        raise UnknownCurrency(f"{currency!r} is not a cash instrument", field="currency")


def _check_not_imported(
    keyed: Sequence[tuple[StatementLine, str]], clashes: Mapping[str, tuple[str, int]]
) -> None:
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


@use_case("reconciliations.start")
def start_reconciliation(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    import_id: str,
    tolerance: Tolerance,
) -> Created[ReconciliationReport]:
    """Reconcile an imported statement against its account, matching automatically. One
    reconciliation per import: starting it again with the same tolerances answers it as it
    stands (a replay); with other tolerances, `RecordExists`."""
    reconciliation_id = "rec-" + import_id.removeprefix("stmt-")

    def work(uow: UnitOfWork) -> Created[ReconciliationReport]:
        if not (0 <= tolerance.days <= TOLERANCE_DAYS_MAX and tolerance.amount_fen >= 0):
            raise InvalidField(
                f"tolerances: fen ≥ 0, days 0–{TOLERANCE_DAYS_MAX}", field="tolerance"
            )
        statement = uow.finance.get_import(import_id)
        if statement is None or not _sees_account(uow, actor, statement.account_code):
            raise ReconciliationNotFound(f"no statement import {import_id!r}", field="import_id")
        existing = uow.finance.get_reconciliation(reconciliation_id)
        if existing is not None:
            if existing.tolerance != tolerance:
                raise RecordExists(
                    f"{reconciliation_id} was started with other tolerances "
                    f"({existing.tolerance.amount_fen} fen, {existing.tolerance.days} days)",
                    field="import_id",
                )
            return Created(_report(uow, reconciliation_id), replayed=True)
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
        return Created(_report(uow, reconciliation_id))

    return in_transaction(uow_factory, work, actor=actor)


def _candidates(
    uow: UnitOfWork, record: Reconciliation
) -> tuple[dict[int, StatementLine], dict[int, LedgerItem]]:
    lines = dict(uow.finance.import_lines(record.import_id))
    account = uow.accounts.cached([record.account_code])[record.account_code]
    window = day_range(record.window_start, record.window_end)
    items = uow.finance.ledger_items(account.id, record.currency, window)
    return lines, {item.id: item for item in items}


@use_case("reconciliations.read")
def get_report(
    uow_factory: UnitOfWorkFactory, actor: Actor, reconciliation_id: str
) -> ReconciliationReport:
    """The reconciliation with what matched, what did not on either side, and differences."""

    def work(uow: UnitOfWork) -> ReconciliationReport:
        _record(uow, actor, reconciliation_id)
        return _report(uow, reconciliation_id)

    return read(uow_factory, work)


def _sees_account(uow: UnitOfWork, actor: Actor, account_code: str) -> bool:
    account = uow.accounts.cached([account_code]).get(account_code)
    return account is not None and sees(uow, actor, account.party)


def _record(
    uow: UnitOfWork, actor: Actor, reconciliation_id: str, *, lock: bool = False
) -> Reconciliation:
    """The reconciliation (out of the actor's scope: not found alike)."""
    record = uow.finance.get_reconciliation(reconciliation_id, lock=lock)
    if record is None or not _sees_account(uow, actor, record.account_code):
        raise ReconciliationNotFound(
            f"reconciliation {reconciliation_id!r} not found", field="reconciliation_id"
        )
    return record


def _report(uow: UnitOfWork, reconciliation_id: str) -> ReconciliationReport:
    """Everything a report shows, built in one unit of work (the caller's)."""
    record = uow.finance.get_reconciliation(reconciliation_id)
    assert record is not None, "the caller found it"
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


@use_case("reconciliations.match")
def match_manually(  # noqa: PLR0917 - what a manual match is
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    reconciliation_id: str,
    match_id: str,
    line_ids: Sequence[int],
    posting_ids: Sequence[int],
    reason: str,
) -> Created[ReconciliationReport]:
    """Match unmatched statement lines with unmatched postings of the window, with a reason,
    under the client's `match_id`: the same match again answers the reconciliation as it stands
    (a replay, even once confirmed); another match under that id, `RecordExists`."""

    def work(uow: UnitOfWork) -> Created[ReconciliationReport]:
        _check_client_id(match_id)
        _check_reason(reason)
        record = _record(uow, actor, reconciliation_id, lock=True)  # matches queue here
        stored = uow.finance.find_match(reconciliation_id, match_id)
        if stored is not None:
            _check_same_match(stored, line_ids, posting_ids, reason)
            return Created(_report(uow, reconciliation_id), replayed=True)
        _check_open(record)
        report = _report(uow, reconciliation_id)
        _check_unmatched(report, line_ids, posting_ids)
        difference = sum(report.lines[i].amount_fen for i in line_ids) - sum(
            report.items[i].amount_fen for i in posting_ids
        )
        match = Match(tuple(line_ids), tuple(posting_ids), "manual", difference)
        uow.finance.add_match(reconciliation_id, match, reason, actor.id, uow.now(), match_id)
        return Created(_report(uow, reconciliation_id))

    return in_transaction(uow_factory, work, actor=actor)


def _check_client_id(match_id: str) -> None:
    if not match_id.strip() or len(match_id) > CLIENT_ID_LENGTH_MAX:
        raise InvalidField(
            f"a match id of 1–{CLIENT_ID_LENGTH_MAX} characters is required", field="id"
        )


def _check_same_match(
    stored: MatchRecord, line_ids: Sequence[int], posting_ids: Sequence[int], reason: str
) -> None:
    same = (
        sorted(stored.match.line_ids) == sorted(line_ids)
        and sorted(stored.match.posting_ids) == sorted(posting_ids)
        and stored.reason == reason
    )
    if not same:
        raise RecordExists(f"match {stored.client_id!r} was made with other items", field="id")


def _check_unmatched(
    report: ReconciliationReport, line_ids: Sequence[int], posting_ids: Sequence[int]
) -> None:
    free_lines, free_items = set(report.unmatched_lines), set(report.unmatched_postings)
    if not line_ids or not posting_ids:
        raise MatchInvalid("a match names at least one line and one posting", field="lines")
    if not set(line_ids) <= free_lines or len(set(line_ids)) != len(line_ids):
        raise MatchInvalid(
            f"lines {sorted(set(line_ids) - free_lines)} are not unmatched lines of this statement",
            field="lines",
        )
    if not set(posting_ids) <= free_items or len(set(posting_ids)) != len(posting_ids):
        raise MatchInvalid(
            f"postings {sorted(set(posting_ids) - free_items)} are not unmatched postings "
            "of this reconciliation's window",
            field="postings",
        )


@use_case("reconciliations.unmatch")
def unmatch(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    reconciliation_id: str,
    match_id: int,
    reason: str,
) -> ReconciliationReport:
    """Undo a match (automatic or manual), with a reason; its items are unmatched again."""

    def work(uow: UnitOfWork) -> ReconciliationReport:
        _check_reason(reason)
        _open(uow, actor, reconciliation_id)
        if match_id not in {m.id for m in uow.finance.active_matches(reconciliation_id)}:
            raise MatchInvalid(f"no active match {match_id} in {reconciliation_id}", field="match")
        uow.finance.unmatch(match_id, actor.id, uow.now(), reason)
        return _report(uow, reconciliation_id)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("reconciliations.confirm")
def confirm(
    uow_factory: UnitOfWorkFactory, actor: Actor, reconciliation_id: str
) -> ReconciliationReport:
    """Confirm the reconciliation as it stands; from then on it is frozen."""

    def work(uow: UnitOfWork) -> ReconciliationReport:
        _open(uow, actor, reconciliation_id)
        uow.finance.confirm_reconciliation(reconciliation_id, actor.id, uow.now())
        return _report(uow, reconciliation_id)

    return in_transaction(uow_factory, work, actor=actor)


def _open(uow: UnitOfWork, actor: Actor, reconciliation_id: str) -> Reconciliation:
    """The reconciliation, its row locked; refused once confirmed."""
    return _check_open(_record(uow, actor, reconciliation_id, lock=True))


def _check_open(record: Reconciliation) -> Reconciliation:
    if record.state == "confirmed":
        raise ReconciliationConfirmed(
            f"reconciliation {record.id} was confirmed by {record.confirmed_by}: it is frozen",
            field="reconciliation_id",
        )
    return record


def _check_reason(reason: str) -> None:
    if not reason.strip() or len(reason) > REASON_LENGTH_MAX:
        raise InvalidField(
            f"a reason of 1–{REASON_LENGTH_MAX} characters is required", field="reason"
        )
