"""Period close: closing a month, quarter or year forbids new entries effective in it;
reopening one takes four eyes (always: `FOUR_EYES_ALWAYS`); corrections go into
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

from ledger.domain.access import Actor, Pending
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
from ledger.services import adjustments, journal
from ledger.services.authority import gate, use_case
from ledger.services.transactions import in_transaction, read

REOPEN = "period_reopen"  # the four-eyes operation
REASON_LENGTH_MAX = 400
CORRECTS = "corrects"  # the reference kind of a correcting entry


@use_case("periods.close")
def close_period(
    uow_factory: UnitOfWorkFactory, actor: Actor, label: str, reason: str = ""
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

    return in_transaction(uow_factory, work, actor=actor)


@use_case("periods.reopen")
def reopen_period(
    uow_factory: UnitOfWorkFactory, actor: Actor, label: str, reason: str, reopen_id: str
) -> PeriodRecord | Pending:
    """Reopen a closed period: always four-eyes ("period_reopen"); it reopens when another
    person approves. `reopen_id` is the client's id of the request: asked again the same, it
    answers the stored request (a replay); asked differently, `RecordExists`."""
    _check_reason(reason, required=True)
    parse_period(label)

    def work(uow: UnitOfWork) -> PeriodRecord | Pending:
        existing = _closed(uow, label)
        payload = {"id": reopen_id, "period": label, "reason": reason}
        pending = gate(uow, actor, REOPEN, payload, key=reopen_id)
        if pending is not None:
            return pending
        return _reopen(uow, actor, existing, reason)

    return in_transaction(uow_factory, work, actor=actor)


def run_approved_reopen(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> PeriodRecord | Pending:
    return reopen_period(
        uow_factory, actor, str(payload["period"]), str(payload["reason"]), str(payload["id"])
    )


def _closed(uow: UnitOfWork, label: str) -> PeriodRecord:
    existing = uow.finance.get_period(label, lock=True)
    if existing is None:
        raise PeriodNotFound(f"period {label} was never closed", field="period")
    if existing.state is not PeriodState.CLOSED:
        raise PeriodNotClosed(f"period {label} is not closed", field="period")
    return existing


def _reopen(uow: UnitOfWork, actor: Actor, existing: PeriodRecord, reason: str) -> PeriodRecord:
    now = uow.now()
    record = replace(
        existing, state=PeriodState.OPEN, reopened_by=actor.id, reopened_at=now, reason=reason
    )
    uow.finance.save_period(record)
    uow.finance.add_period_event(existing.period.label, "reopen", actor.id, now, reason)
    return record


@use_case("periods.read")
def get_period(uow_factory: UnitOfWorkFactory, actor: Actor, label: str) -> PeriodRecord:
    parse_period(label)
    record = read(uow_factory, lambda uow: uow.finance.get_period(label))
    if record is None:
        raise PeriodNotFound(f"period {label} was never closed", field="period")
    return record


@use_case("periods.list")
def list_periods(uow_factory: UnitOfWorkFactory, actor: Actor) -> list[PeriodRecord]:
    """Every period ever closed, with its state (closed, or open again)."""
    return read(uow_factory, lambda uow: uow.finance.list_periods())


@use_case("entries.post")  # a correction is an adjustment: its role is checked before any read
def post_correction(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    corrected_entry_id: str,
    command: journal.PostEntry,
) -> journal.Posted | Pending:
    """Post a correcting adjustment into an open period, referencing the entry it corrects (the
    period rule applies to it like to any entry: it may not be effective in a closed one). It
    is an adjustment of the raw journal, with its rules and its four-eyes."""
    found = read(uow_factory, lambda uow: uow.journal.get_many([corrected_entry_id]))
    if corrected_entry_id not in found:
        raise EntryNotFound(f"entry {corrected_entry_id!r} not found", field="corrects")
    reference = Reference(CORRECTS, corrected_entry_id)
    if reference not in command.references:
        command = replace(command, references=(*command.references, reference))
    return adjustments.post_entry(uow_factory, actor, command)


def _check_reason(reason: str, *, required: bool) -> None:
    if required and not reason.strip():
        raise InvalidField("a reason is required", field="reason")
    if len(reason) > REASON_LENGTH_MAX:
        raise InvalidField(f"at most {REASON_LENGTH_MAX} characters", field="reason")
