"""Running a use case in a transaction with bounded retries of deadlocks and serialization failures.

A retry repeats the whole unit of work with the same entry ids, so a client never sees a deadlock
and never gets a duplicate (portable to CockroachDB/YugabyteDB, which require client retries).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from ledger.domain.errors import RetryableConflict
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory

ATTEMPTS_MAX = 10
BACKOFF_BASE_SECONDS = 0.002

T = TypeVar("T")


def in_transaction(
    uow_factory: UnitOfWorkFactory, work: Callable[[UnitOfWork], T], *, read_only: bool = False
) -> T:
    """Run `work` in one unit of work and commit it; retry whole on a retryable conflict."""
    for attempt in range(1, ATTEMPTS_MAX + 1):
        try:
            with uow_factory(read_only=read_only) as uow:
                result = work(uow)
                uow.commit()
                return result
        except RetryableConflict:
            if attempt == ATTEMPTS_MAX:
                raise
            # Jittered exponential backoff so that the racers do not collide again in step.
            time.sleep(random.uniform(0, BACKOFF_BASE_SECONDS * 2**attempt))  # noqa: S311
    raise AssertionError("unreachable")


def read(uow_factory: UnitOfWorkFactory, work: Callable[[UnitOfWork], T]) -> T:
    """Run a query in a read-only unit of work."""
    return in_transaction(uow_factory, work, read_only=True)
