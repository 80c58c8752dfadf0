"""The effective time of a business record's entries from its business date, checked inside the
record's transaction (see `ledger.domain.business_dates` for the rules)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from ledger.domain.business_dates import FIELD, check_business_date, check_vintages
from ledger.domain.finance import beijing_date, closed_period_error
from ledger.domain.ports import UnitOfWork


def effective_at(
    uow: UnitOfWork,
    day: date | None,
    *,
    vintages: Iterable[int | None] = (),
    field: str = FIELD,
) -> datetime | None:
    """The effective time of the entries of a record dated `day` (None: undated, effective when
    written, so that only the vintage rule applies, to today), or the rule the date breaks:
    in the future, before the earliest of `vintages`, in a closed period (naming `field`)."""
    today = beijing_date(uow.now())
    if day is None:
        check_vintages(today, vintages, field)
        return None
    moment = check_business_date(day, today=today, vintages=vintages, field=field)
    closed = uow.finance.closed_period_among([moment])
    if closed is not None:
        raise closed_period_error(closed, field=field)
    return moment


def effective_at_found(
    uow: UnitOfWork,
    day: date,
    closed: str | None,
    *,
    vintages: Iterable[int | None] = (),
    field: str = FIELD,
) -> datetime:
    """`effective_at` of a dated record whose caller read, in a read of its own with other
    things, the closed period containing the day's `effective_instant` (`closed`; None: open):
    a trade step after its balances' lock, a proposal (which writes no entry) without one. An
    open instant is told to `uow.finance`, so that the journal does not ask again; a close that
    commits later is still refused by the `entries_period_open` trigger."""
    moment = check_business_date(day, today=beijing_date(uow.now()), vintages=vintages, field=field)
    if closed is not None:
        raise closed_period_error(closed, field=field)
    uow.finance.found_open([moment])
    return moment


def same_day(stored: datetime, day: date | None) -> bool:
    """Whether a retry dated `day` (None: undated, any day) asks for what was stored effective at
    `stored`."""
    return day is None or beijing_date(stored) == day


def booked_on(uow: UnitOfWork, entry_id: str, day: date | None) -> bool:
    """Whether the stored entry `entry_id` was booked on `day` (a retry's date, if any)."""
    stored = uow.journal.get_many([entry_id]).get(entry_id)
    return stored is None or same_day(stored.effective_at, day)
