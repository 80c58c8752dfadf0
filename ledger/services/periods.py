"""Period close: closing a month, quarter or year forbids new entries effective in it;
reopening one takes four eyes (the approvals service runs `period.reopen`); corrections go into
an open period and reference the entry they correct.

Race safety: a close first takes `lock_journal_for_close` (PostgreSQL: `LOCK TABLE entries IN
SHARE ROW EXCLUSIVE MODE`, which waits for every transaction that has written entries and holds
new writers until the close commits; SQLite: the write lock the unit of work already holds).
The database's trigger then refuses any entry effective in the closed period. So an entry racing
the close either committed before it (and is counted in `entries_at_close`) or is rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ledger.domain.access import Principal
from ledger.domain.entries import Reference
from ledger.domain.errors import EntryNotFound, InvalidField
from ledger.domain.finance import (
    PeriodNotClosed,
    PeriodNotEnded,
    PeriodNotFound,
    PeriodRecord,
    PeriodState,
    parse_period,
)
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.services import approvals, journal
from ledger.services.transactions import in_transaction, read

REOPEN_OPERATION = "period.reopen"
REASON_LENGTH_MAX = 400
CORRECTS = "corrects"  # the reference kind of a correcting entry


def close_period(
    uow_factory: UnitOfWorkFactory, actor: Principal, label: str, reason: str = ""
) -> PeriodRecord:
    """Close a period that has ended; closing a closed period again returns it unchanged."""
    period = parse_period(label)
    _check_reason(reason, required=False)

    def work(uow: UnitOfWork) -> PeriodRecord:
        now = uow.now()
        if period.ends_at > now:
            raise PeriodNotEnded(
                f"period {label} ends at {period.ends_at.isoformat()}", field="period"
            )
        uow.finance.lock_journal_for_close()
        existing = uow.finance.get_period(label, lock=True)
        if existing is not None and existing.state is PeriodState.CLOSED:
            return existing
        count = uow.finance.count_entries_between(period.starts_at, period.ends_at)
        record = PeriodRecord(period, PeriodState.CLOSED, actor.id, now, count, reason=reason)
        uow.finance.save_period(record)
        uow.finance.add_period_event(label, "close", actor.id, now, reason)
        return record

    return in_transaction(uow_factory, work)


def reopen_period(
    uow_factory: UnitOfWorkFactory, actor: Principal, label: str, reason: str
) -> PeriodRecord:
    """Reopen a closed period now. Callers outside the approvals service must have had the
    reopening approved by a second principal: the API only requests it (`request_reopen`)."""
    _check_reason(reason, required=True)
    return in_transaction(uow_factory, lambda uow: _reopen(uow, actor, label, reason))


def request_reopen(
    uow_factory: UnitOfWorkFactory, actor: Principal, label: str, reason: str
) -> Any:
    """Ask for a period to be reopened; it happens when another principal approves."""
    _check_reason(reason, required=True)
    get_period(uow_factory, label)  # a request for an unknown period is refused at once
    return approvals.request(
        uow_factory, actor, REOPEN_OPERATION, {"period": label, "reason": reason}
    )


def _reopen_executor(
    uow_factory: UnitOfWorkFactory, initiator: Principal, payload: Mapping[str, Any]
) -> Mapping[str, Any]:
    label, reason = str(payload["period"]), str(payload["reason"])
    record = reopen_period(uow_factory, initiator, label, reason)
    return {"period": record.period.label, "state": record.state.value}


approvals.register(REOPEN_OPERATION, _reopen_executor)


def _reopen(uow: UnitOfWork, actor: Principal, label: str, reason: str) -> PeriodRecord:
    existing = uow.finance.get_period(label, lock=True)
    if existing is None:
        raise PeriodNotFound(f"period {label} was never closed", field="period")
    if existing.state is not PeriodState.CLOSED:
        raise PeriodNotClosed(f"period {label} is not closed", field="period")
    now = uow.now()
    record = replace(
        existing, state=PeriodState.OPEN, reopened_by=actor.id, reopened_at=now, reason=reason
    )
    uow.finance.save_period(record)
    uow.finance.add_period_event(label, "reopen", actor.id, now, reason)
    return record


def get_period(uow_factory: UnitOfWorkFactory, label: str) -> PeriodRecord:
    parse_period(label)
    record = read(uow_factory, lambda uow: uow.finance.get_period(label))
    if record is None:
        raise PeriodNotFound(f"period {label} was never closed", field="period")
    return record


def list_periods(uow_factory: UnitOfWorkFactory) -> list[PeriodRecord]:
    """Every period ever closed, with its state (closed, or open again)."""
    return read(uow_factory, lambda uow: uow.finance.list_periods())


def post_correction(
    uow_factory: UnitOfWorkFactory, corrected_entry_id: str, command: journal.PostEntry
) -> journal.Posted:
    """Post a correcting entry into an open period, referencing the entry it corrects (the
    period rule applies to it like to any entry: it may not be effective in a closed one)."""
    found = read(uow_factory, lambda uow: uow.journal.get_many([corrected_entry_id]))
    if corrected_entry_id not in found:
        raise EntryNotFound(f"no entry {corrected_entry_id!r}", field="corrects")
    reference = Reference(CORRECTS, corrected_entry_id)
    if reference not in command.references:
        command = replace(command, references=(*command.references, reference))
    return journal.post_entry(uow_factory, command)


def _check_reason(reason: str, *, required: bool) -> None:
    if required and not reason.strip():
        raise InvalidField("a reason is required", field="reason")
    if len(reason) > REASON_LENGTH_MAX:
        raise InvalidField(f"at most {REASON_LENGTH_MAX} characters", field="reason")
