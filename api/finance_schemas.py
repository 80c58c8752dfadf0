"""Wire format of finance: periods, statement imports and reconciliations.

Cash amounts are signed decimal strings in CNY ("-1234.56"); tolerances are integers (fen,
days). Reports are not modelled here: they stream as JSON, CSV or XLSX (ledger.services.exports).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from api.registry_schemas import RecordId, cny
from api.schemas import NO_NUL, Strict
from ledger.domain.finance import PeriodRecord
from ledger.services.reconciliation import ReconciliationReport

Reason = Annotated[str, Field(max_length=400), NO_NUL]


class ReasonIn(Strict):
    reason: Reason = ""


class RequiredReasonIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=400), NO_NUL]


class ReopenIn(RequiredReasonIn):
    id: RecordId = Field(description="your id of this request: a retry under it is answered alike")


class PeriodOut(Strict):
    period: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    state: str
    closed_by: str
    closed_at: datetime
    entries_at_close: int
    reopened_by: str | None
    reopened_at: datetime | None
    reason: str


class PeriodList(Strict):
    periods: list[PeriodOut]


class ReopenRequestOut(Strict):
    request_id: str
    operation: str
    state: str
    expires_at: datetime


def period_out(record: PeriodRecord) -> PeriodOut:
    return PeriodOut(
        period=record.period.label,
        kind=record.period.kind.value,
        starts_at=record.period.starts_at,
        ends_at=record.period.ends_at,
        state=record.state.value,
        closed_by=record.closed_by,
        closed_at=record.closed_at,
        entries_at_close=record.entries_at_close,
        reopened_by=record.reopened_by,
        reopened_at=record.reopened_at,
        reason=record.reason,
    )


class StatementImportOut(Strict):
    import_id: str
    account: str
    source: str
    currency: str
    filename: str
    sha256: str
    lines: int
    first_date: date
    last_date: date
    imported_by: str
    imported_at: datetime


class ReconciliationIn(Strict):
    import_id: Annotated[str, Field(min_length=1, max_length=40)]
    amount_tolerance_fen: Annotated[int, Field(ge=0, le=100_000_000)] = 0
    date_tolerance_days: Annotated[int, Field(ge=0, le=31)] = 0


class ManualMatchIn(Strict):
    id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    lines: Annotated[list[int], Field(min_length=1, max_length=100)]
    postings: Annotated[list[int], Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(min_length=1, max_length=400), NO_NUL]


class StatementLineOut(Strict):
    line_id: int
    line_no: int
    date: date
    reference: str
    amount: str
    counterparty: str
    description: str


class LedgerItemOut(Strict):
    posting_id: int
    entry_id: str
    date: date
    amount: str


class MatchOut(Strict):
    match_id: int
    id: str | None  # the client's id of a manual match
    method: str
    lines: list[int]  # line ids
    line_numbers: list[int]
    postings: list[int]
    entries: list[str]
    difference: str
    reason: str
    matched_by: str


class ReconciliationOut(Strict):
    reconciliation_id: str
    import_id: str
    account: str
    currency: str
    amount_tolerance_fen: int
    date_tolerance_days: int
    window_start: date
    window_end: date
    state: str
    confirmed_by: str | None
    confirmed_at: datetime | None
    statement_total: str
    ledger_total: str
    matches: list[MatchOut]
    unmatched_lines: list[StatementLineOut]
    unmatched_postings: list[LedgerItemOut]
    differences: list[MatchOut]


def reconciliation_out(report: ReconciliationReport) -> ReconciliationOut:
    record = report.reconciliation
    matches = [
        MatchOut(
            match_id=m.id,
            id=m.client_id,
            method=m.match.method,
            lines=list(m.match.line_ids),
            line_numbers=[report.lines[i].line_no for i in m.match.line_ids],
            postings=list(m.match.posting_ids),
            entries=[
                report.items[i].entry_id if i in report.items else "?" for i in m.match.posting_ids
            ],
            difference=cny(m.match.difference_fen),
            reason=m.reason,
            matched_by=m.created_by,
        )
        for m in report.matches
    ]
    return ReconciliationOut(
        reconciliation_id=record.id,
        import_id=record.import_id,
        account=record.account_code,
        currency=record.currency,
        amount_tolerance_fen=record.tolerance.amount_fen,
        date_tolerance_days=record.tolerance.days,
        window_start=record.window_start,
        window_end=record.window_end,
        state=record.state,
        confirmed_by=record.confirmed_by,
        confirmed_at=record.confirmed_at,
        statement_total=cny(report.statement_total_fen),
        ledger_total=cny(report.ledger_total_fen),
        matches=matches,
        unmatched_lines=[_line_out(report, i) for i in report.unmatched_lines],
        unmatched_postings=[
            LedgerItemOut(
                posting_id=i,
                entry_id=report.items[i].entry_id,
                date=report.items[i].on,
                amount=cny(report.items[i].amount_fen),
            )
            for i in report.unmatched_postings
        ],
        differences=[m for m in matches if m.difference != "0.00"],
    )


def _line_out(report: ReconciliationReport, line_id: int) -> StatementLineOut:
    line = report.lines[line_id]
    return StatementLineOut(
        line_id=line_id,
        line_no=line.line_no,
        date=line.booked_on,
        reference=line.reference,
        amount=cny(line.amount_fen),
        counterparty=line.counterparty,
        description=line.description,
    )
