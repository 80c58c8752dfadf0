"""Helpers shared by the integration tests: a hand-driven clock, snapshots, amounts, and a
count of the deadlocks the ledger retried."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from ledger.domain.errors import LedgerError
from ledger.persistence.store import Store
from ledger.services import queries
from tests.factories import actor

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DEADLOCK = "deadlock detected"  # PostgreSQL's message for SQLSTATE 40P01


@contextmanager
def counting_deadlocks() -> Iterator[list[str]]:
    """Every deadlock the ledger retries meanwhile. A client never sees one (the service retries
    it), so they are counted where they are retried: the retry log of `services.transactions`,
    which every write path reaches, the driver-level ones included."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if DEADLOCK in record.getMessage():
                seen.append(record.getMessage())

    logger = logging.getLogger("ledger.services.transactions")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class ManualClock:
    """A clock that moves only when the test moves it."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


Snapshot = tuple[int, int, list[tuple[Any, ...]]]


def snapshot(store: Store) -> Snapshot:
    """Entry count, posting count and every balance row exactly as stored."""
    with store.engine.connect() as connection:
        entries = connection.execute(text("SELECT count(*) FROM entries")).scalar_one()
        postings = connection.execute(text("SELECT count(*) FROM postings")).scalar_one()
        balances = connection.execute(
            text(
                "SELECT account_id, instrument_code, debits_posted, credits_posted, "
                "debits_pending, credits_pending, version, updated_at "
                "FROM balances ORDER BY account_id, instrument_code"
            )
        ).all()
    return int(entries), int(postings), [tuple(row) for row in balances]


def entry_count(store: Store) -> int:
    return snapshot(store)[0]


def assert_rejected(store: Store, code: str, action: Callable[[], object]) -> LedgerError:
    """`action` is refused with `code` and leaves balances and the journal exactly as they were."""
    before = snapshot(store)
    with pytest.raises(LedgerError) as caught:
        action()
    assert caught.value.code == code, caught.value
    assert snapshot(store) == before
    return caught.value


def posted(store: Store, account: str, instrument: str = "SO2-2026") -> Decimal:
    """The account's posted balance on its normal side, in the instrument's unit."""
    view = queries.get_balance(store, actor(store), account, instrument)
    return view.instrument.to_amount(view.balance.posted)


def available(store: Store, account: str, instrument: str = "SO2-2026") -> Decimal:
    """The account's posted balance less what open holds may still take."""
    view = queries.get_balance(store, actor(store), account, instrument)
    return view.instrument.to_amount(view.balance.available)


def as_of(
    store: Store, account: str, moment: datetime, axis: str, instrument: str = "SO2-2026"
) -> Decimal:
    view = queries.get_balance(store, actor(store), account, instrument, as_of=moment, axis=axis)
    return view.instrument.to_amount(view.balance.posted)


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
