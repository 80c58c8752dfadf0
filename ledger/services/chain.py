"""Tamper evidence: sealing the journal into its hash chain, and verifying chain and balances.

Sealing is asynchronous (the write path never touches the chain, so writers never queue behind
one row): the links are computed from a read-only snapshot, then appended in a short write
transaction that holds the sealers' lock and first checks that the tail is still the one the
links were computed on (sealing is the chain's only writer; a sealer that lost a race retries).

A `Sealer` remembers how far the journal is known to be chained — its horizon — and looks for
unchained entries only above it, so that a round costs what was written since the last one, not
a scan of the whole journal. Where entries commit in seq order (SQLite) the horizon is simply
the highest seq chained. On PostgreSQL a transaction can commit a lower seq after a higher one
was chained, so the horizon trails by `STRAGGLER_WINDOW`: it is the highest seq chained by a
round that finished that long ago, when every transaction that could still commit below it was
long over. A deep round (the whole journal) runs when a sealer starts, every `DEEP_SWEEP_EVERY`
and before every verification, so an entry that outlived the window is still chained, later.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from ledger.domain.chain import (
    ChainBreak,
    ChainLink,
    ChainProblem,
    ChainWalker,
    explain_hash_mismatch,
    extend,
)
from ledger.domain.entries import EntryRecord
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory, Violation
from ledger.services.transactions import in_transaction, read

SEAL_PAGE_SIZE = 5_000
VERIFY_PAGE_SIZE = 1_000
# An entry committed this long ago and still not chained is reported: the sealer is not running.
UNCHAINED_GRACE = timedelta(seconds=60)
SEAL_ATTEMPTS_MAX = 10
# Longer than any write transaction lasts: after it, nothing commits below a seq seen chained.
STRAGGLER_WINDOW = timedelta(seconds=10)
DEEP_SWEEP_EVERY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class _Page:
    sealed: int
    complete: bool  # nothing was left unchained above the page's floor in its snapshot
    high: int  # the highest entry seq chained once the page was appended
    in_order: bool  # entries commit in seq order on this database


class Sealer:
    """Seals the journal round after round from its horizon; safe to share between threads."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        page_size: int = SEAL_PAGE_SIZE,
        straggler_window: timedelta = STRAGGLER_WINDOW,
        deep_every: timedelta = DEEP_SWEEP_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow_factory = uow_factory
        self.page_size = page_size
        self._window = straggler_window.total_seconds()
        self._deep_every = deep_every.total_seconds()
        self._clock = clock
        self._lock = threading.Lock()
        self._horizon: int | None = None  # every committed entry with seq <= it is chained
        self._marks: deque[tuple[float, int]] = deque()  # (when, highest seq chained by then)
        self._last_deep: float | None = None  # monotonic clock seconds, like every float here

    @property
    def horizon(self) -> int | None:
        """Every committed entry with a seq up to it is chained (None: not known yet)."""
        return self._horizon

    def seal_all(self, *, deep: bool = False) -> int:
        """Chain every committed entry not chained yet, page after page; how many were chained.

        Looks above the horizon only, unless `deep` or a deep round is due."""
        started = self._clock()
        with self._lock:
            deep = (
                deep
                or self._horizon is None
                or self._last_deep is None
                or started - self._last_deep >= self._deep_every
            )
            floor = 0 if deep else self._horizon or 0
        total = 0
        while True:
            page = self._seal_page(floor, self.page_size)
            total += page.sealed
            if page.complete:
                self._observe(started, page, deep=deep)
                return total
            if not page.sealed:  # lost every race for the tail: the next round resumes
                return total
            started = self._clock()

    def seal_page(self, limit: int) -> int:
        """Chain up to `limit` committed entries not chained yet, by seq; how many were chained."""
        started = self._clock()
        with self._lock:
            floor = self._horizon or 0
            deep = self._horizon is None
        page = self._seal_page(floor, limit)
        if page.complete:
            self._observe(started, page, deep=deep)
        return page.sealed

    def _seal_page(self, floor: int, limit: int) -> _Page:
        def snapshot(uow: UnitOfWork) -> tuple[ChainLink | None, int, bool, list[EntryRecord]]:
            return (
                uow.chain.tail(),
                uow.chain.highest_chained_seq(),
                uow.chain.commits_in_seq_order,
                uow.chain.unchained(limit, above=floor),
            )

        for _ in range(SEAL_ATTEMPTS_MAX):
            tail, high, in_order, records = read(self._uow_factory, snapshot)
            if not records:
                return _Page(0, complete=True, high=high, in_order=in_order)
            links = extend(tail, records)

            def append(
                uow: UnitOfWork, tail: ChainLink | None = tail, links: list[ChainLink] = links
            ) -> bool:
                if uow.chain.tail(lock=True) != tail:
                    return False  # another sealer moved the tail: compute again
                uow.chain.append(links, uow.now())
                return True

            if in_transaction(self._uow_factory, append):
                high = max(high, records[-1].seq)
                return _Page(len(links), len(records) < limit, high, in_order)
        return _Page(0, complete=False, high=0, in_order=False)

    def _observe(self, started: float, page: _Page, *, deep: bool) -> None:
        """A round found nothing left to chain above its floor in a snapshot taken after
        `started`: everything committed by then up to `page.high` is chained."""
        with self._lock:
            if deep:
                self._last_deep = (
                    started if self._last_deep is None else max(self._last_deep, started)
                )
            if page.in_order:  # nothing can commit below what a reader sees committed
                self._horizon = max(self._horizon or 0, page.high)
                return
            self._marks.append((started, page.high))
            settled = self._clock() - self._window
            while self._marks and self._marks[0][0] <= settled:
                _, high = self._marks.popleft()
                self._horizon = max(self._horizon or 0, high)


# One sealer per unit-of-work factory (a process's store), for the functions below.
_sealers: weakref.WeakKeyDictionary[Any, Sealer] = weakref.WeakKeyDictionary()
_sealers_lock = threading.Lock()


def sealer_of(uow_factory: UnitOfWorkFactory) -> Sealer:
    """The sealer this process uses for `uow_factory` (made on first use)."""
    with _sealers_lock:
        sealer = _sealers.get(uow_factory)
        if sealer is None:
            sealer = _sealers[uow_factory] = Sealer(uow_factory)
        return sealer


def seal_journal(uow_factory: UnitOfWorkFactory, limit: int = SEAL_PAGE_SIZE) -> int:
    """Chain up to `limit` committed entries not chained yet, by seq; how many were chained."""
    return sealer_of(uow_factory).seal_page(limit)


def seal_all(uow_factory: UnitOfWorkFactory, *, deep: bool = False) -> int:
    """Seal page after page until nothing is left; how many entries were chained."""
    return sealer_of(uow_factory).seal_all(deep=deep)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The chain recomputed from chain_seq 1 and the balance invariants rechecked."""

    chained: int  # links verified before the first break (all of them when none)
    first_break: ChainBreak | None
    violations: list[Violation]

    @property
    def ok(self) -> bool:
        return self.first_break is None and not self.violations


def _links(
    uow: UnitOfWork, *, after: int, limit: int
) -> list[tuple[ChainLink, EntryRecord | None]]:
    return uow.chain.links(after, limit)


def verify_journal(
    uow_factory: UnitOfWorkFactory,
    *,
    seal_first: bool = True,
    page_size: int = VERIFY_PAGE_SIZE,
    unchained_grace: timedelta = UNCHAINED_GRACE,
) -> VerifyReport:
    """Recompute the chain (streamed in pages) and every invariant; report the first break."""
    if seal_first:
        seal_all(uow_factory, deep=True)
    walker = ChainWalker()
    while walker.broken is None:
        page = read(uow_factory, partial(_links, after=walker.last_chain_seq, limit=page_size))
        for index, (link, record) in enumerate(page):
            broken = walker.check(link, record)
            if broken is not None:
                if broken.problem is ChainProblem.HASH_MISMATCH and record is not None:
                    following = [later for later, _ in page[index + 1 :]]
                    walker.broken = explain_hash_mismatch(broken, record, following)
                break
        if len(page) < page_size:
            break
    if walker.broken is None:

        def stale(uow: UnitOfWork) -> EntryRecord | None:
            return uow.chain.first_unchained_before(uow.now() - unchained_grace)

        record = read(uow_factory, stale)
        if record is not None:
            walker.broken = ChainBreak(
                None,
                record.entry_id,
                ChainProblem.NOT_CHAINED,
                f"recorded at {record.recorded_at.isoformat()} and still not chained",
            )
    violations = read(uow_factory, lambda uow: uow.journal.find_violations())
    return VerifyReport(walker.checked, walker.broken, violations)
