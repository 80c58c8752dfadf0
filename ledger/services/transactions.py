"""Running a use case in a transaction with bounded retries of deadlocks and serialization failures.

A retry repeats the whole unit of work with the same entry ids, so a client never sees a deadlock
and never gets a duplicate (portable to CockroachDB/YugabyteDB, which require client retries).

A write made for an `Actor` is audited here: its "ok" (or "pending", for a four-eyes request)
line is written inside the same transaction just before the commit, so committed ⇔ audited; a
rejection is audited in a transaction of its own, since its own rolled back.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar, cast

from ledger import metrics
from ledger.domain.access import Actor, Pending
from ledger.domain.errors import LedgerError, RecordExists, RetryableConflict, StorageConflict
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory

# Retries go on for up to this long, then the conflict reaches the caller (HTTP: 503
# busy_retry_later). A time budget, not a count of attempts: under SERIALIZABLE (CockroachDB,
# YugabyteDB; `make test-serializable`) every waiter for a hot row is aborted when its holder
# commits, so the attempts a writer needs grow with the number of writers on that row.
RETRY_SECONDS_MAX = 10.0
BACKOFF_BASE_SECONDS = 0.002
BACKOFF_MAX_SECONDS = 0.05

T = TypeVar("T")
log = logging.getLogger(__name__)


def in_transaction(
    uow_factory: UnitOfWorkFactory,
    work: Callable[[UnitOfWork], T],
    *,
    read_only: bool = False,
    actor: Actor | None = None,
    audit_rejection: bool = True,
) -> T:
    """Run `work` in one unit of work and commit it; retry whole on a retryable conflict.
    With an `actor` (and not read-only), the write is audited: see the module's docstring;
    `audit_rejection=False` leaves a rejection to the caller (which may yet answer a replay)."""
    audited = actor if not read_only else None
    try:
        return _attempts(uow_factory, work, read_only, audited)
    except LedgerError as error:
        if audited is not None and audit_rejection:
            rejected(uow_factory, audited, error)
        raise


def rejected(uow_factory: UnitOfWorkFactory, actor: Actor, error: LedgerError) -> None:
    """Audit a rejection once, in its own transaction (inside an approval's transaction, the
    approval's own rejection line covers it)."""
    if not isinstance(uow_factory, _Joined) and not error.audited:
        audit(uow_factory, actor, "rejected", error.code)
        error.audited = True


def _attempts(
    uow_factory: UnitOfWorkFactory,
    work: Callable[[UnitOfWork], T],
    read_only: bool,
    actor: Actor | None,
) -> T:
    taken_once = False
    deadline = time.monotonic() + RETRY_SECONDS_MAX
    for attempt in itertools.count(1):
        try:
            with uow_factory(read_only=read_only) as uow:
                result = work(uow)
                if actor is not None:
                    outcome = "pending" if isinstance(result, Pending) else "ok"
                    uow.access.append_audit([actor.audit(uow.now(), outcome)])
                uow.commit()
                return result
        except StorageConflict as taken:
            # A concurrent create won a unique key: once more, the work sees the winner's row
            # and answers it (a replay) or refuses with its own code. Taken twice: not a race.
            # (Joined to an outer unit of work, the outer one runs again instead.)
            if taken_once or isinstance(uow_factory, _Joined):
                if taken.what == "record":
                    raise RecordExists("a record with this id exists", field="id") from taken
                raise
            taken_once = True
        except RetryableConflict as conflict:
            # The first retry is always taken: a write that found balance rows missing creates
            # them on its retry by design, so a slow first attempt (a loaded server) must not
            # turn that into a refusal. The budget bounds the retries after it.
            if attempt > 1 and time.monotonic() >= deadline:
                raise
            # Worth watching: a steady rate of these is lock-order contention (or a bug in it).
            log.info("retrying a transaction (attempt %d) after: %s", attempt, conflict)
            _back_off(attempt)
    raise AssertionError("unreachable")


def audit(uow_factory: UnitOfWorkFactory, actor: Actor, outcome: str, code: str) -> None:
    """An audit line no write carries (a rejection, a denial), in its own transaction."""
    _attempts(
        uow_factory,
        lambda uow: uow.access.append_audit([actor.audit(uow.now(), outcome, code)]),
        False,
        None,
    )


def read(uow_factory: UnitOfWorkFactory, work: Callable[[UnitOfWork], T]) -> T:
    """Run a query in a read-only unit of work."""
    return in_transaction(uow_factory, work, read_only=True)


class _JoinedConflict(Exception):
    """A retryable conflict inside a joined unit of work: only the outer one may retry."""

    def __init__(self, conflict: RetryableConflict) -> None:
        super().__init__(str(conflict))
        self.conflict = conflict


class _Borrowed:
    """`outer` as seen by a joined use case: everything but `commit`, which is the outer's."""

    def __init__(self, outer: UnitOfWork) -> None:
        self._outer = outer

    def __getattr__(self, name: str) -> object:
        return getattr(self._outer, name)

    def commit(self) -> None:
        """The outer unit of work commits, once, with everything joined to it."""


class _Joined:
    """A unit-of-work factory whose every unit of work is `outer`: commits are the outer's."""

    def __init__(self, outer: UnitOfWork) -> None:
        self._outer = outer

    def __call__(self, *, read_only: bool = False) -> _Joined:
        del read_only
        return self

    def __enter__(self) -> UnitOfWork:
        return cast(UnitOfWork, _Borrowed(self._outer))

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, RetryableConflict):
            raise _JoinedConflict(exc) from exc


def joined(outer: UnitOfWork) -> UnitOfWorkFactory:
    """Run a use case written against a factory inside `outer`'s transaction (atomic with it).

    A retryable conflict inside escapes the use case's own retry loop as `_JoinedConflict`, so
    that `run_joined` makes the *outer* unit of work retry whole, never a half-aborted one.
    """
    return cast(UnitOfWorkFactory, _Joined(outer))


def run_joined(
    uow_factory: UnitOfWorkFactory, work: Callable[[UnitOfWork], T], *, actor: Actor | None = None
) -> T:
    """`in_transaction`, for work that runs use cases through `joined(uow)`."""
    deadline = time.monotonic() + RETRY_SECONDS_MAX
    for attempt in itertools.count(1):
        try:
            return in_transaction(uow_factory, work, actor=actor)
        except _JoinedConflict as error:
            if time.monotonic() >= deadline:
                raise error.conflict from error
            log.info("retrying a joined transaction (attempt %d) after: %s", attempt, error)
            _back_off(attempt)
    raise AssertionError("unreachable")


def _back_off(attempt: int) -> None:
    """Count the retry; jittered exponential backoff, capped, so that the racers do not collide
    again in step."""
    metrics.TRANSACTION_RETRIES.inc()
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
    time.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not a secret
