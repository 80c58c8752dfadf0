"""Tamper evidence: sealing the journal into its hash chain (and, through `record_chains`, the
business records into theirs), and verifying every chain and the balances.

Sealing is asynchronous (the write path never touches the chain, so writers never queue behind
one row) and extends the chain only: a round chains the committed entries above the last one
chained, in seq order, and nothing else. An entry below that point that is not in the chain — its
link deleted, or the entry written behind the ledger's back — is never chained afterwards: verify
reports it. The links are computed from a read-only snapshot, then appended in a short
transaction that locks the chain's head row and first checks that the head is still the one the
links were computed on (a sealer that lost a race computes again), so two sealers never fork it.

On PostgreSQL an entry may commit after one with a higher seq, so a round chains only up to its
*horizon*: a seq such that every transaction which drew one up to it has finished (see
`SqlChainRepository.allocation_mark`); one round's mark settles at a later round, or at once when
no write was running. On SQLite commits follow seq order and the horizon is the highest seq
committed.

A sealer refuses to extend a chain that does not extend what it last saw (links removed from the
end or rewritten behind it), whose head row disagrees with its last link, or whose next entry
was recorded longer ago than the backlog allows (`SEAL_BACKLOG_MAX`): the chain of a ledger whose
links were all deleted is not silently rebuilt. `emissions-ledger seal --backlog` chains such
entries after the operator has checked the chain against the checkpoints kept elsewhere.

Verify never writes: it recomputes every link from chain_seq 1, compares the head, and reports
entries the chain does not account for and entries left unchained too long; then every record
chain (`record_chains.verify_chain`) and the balance invariants.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from ledger.domain.chain import (
    Anchor,
    ChainBreak,
    ChainHead,
    ChainLink,
    ChainProblem,
    ChainWalker,
    SealRefused,
    explain_hash_mismatch,
    extend,
)
from ledger.domain.checkpoints import ChainPoint
from ledger.domain.entries import EntryRecord
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory, Violation
from ledger.services.record_chains import RecordSealer, verify_chain
from ledger.services.transactions import in_transaction, read

JOURNAL = "journal"
SEAL_PAGE_SIZE = 5_000
VERIFY_PAGE_SIZE = 1_000
# An entry this old and still not chained is reported: the sealer is not running (or refuses).
UNCHAINED_GRACE = timedelta(minutes=5)
# The sealer chains no entry recorded longer ago than this without the operator's word.
SEAL_BACKLOG_MAX = timedelta(hours=24)
# How long `seal_all` waits by default for the transactions that drew seqs before it to finish.
SEAL_WAIT = timedelta(seconds=10)
SEAL_ATTEMPTS_MAX = 10
_MARKS_MAX = 64  # PostgreSQL horizons waiting for their transactions to finish
_POLL_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class _Snapshot:
    head: ChainHead
    tail: ChainLink | None
    known: ChainLink | None  # the link where the chain ended when this sealer last saw it
    records: list[EntryRecord]
    now: datetime


class Sealer:
    """Seals the journal round after round up to its horizon; safe to share between threads."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        page_size: int = SEAL_PAGE_SIZE,
        backlog: timedelta | None = SEAL_BACKLOG_MAX,
    ) -> None:
        self._uow_factory = uow_factory
        self.page_size = page_size
        self.backlog = backlog
        self._lock = threading.Lock()  # one round at a time in this process
        # (transactions running when seq was the highest drawn, seq), until they all finish
        self._marks: deque[tuple[frozenset[int], int]] = deque()
        self._horizon = 0  # every seq up to it is committed or never will be
        self._known: ChainPoint | None = None  # where the chain ended when last seen
        self.records = RecordSealer(uow_factory)  # the business records' chains

    @property
    def anchored(self) -> bool:
        """Whether the sealer knows a link the chain must still hold."""
        return self._known is not None

    def anchor(self, point: ChainPoint) -> None:
        """The chain must still hold this link (a checkpoint's) for the sealer to extend it."""
        with self._lock:
            if self._known is None or point.length > self._known.length:
                self._known = point

    @property
    def horizon(self) -> int:
        """Every entry with a seq up to it has committed or never will (0: none known)."""
        return self._horizon

    def seal_all(self, *, wait: timedelta = timedelta(0), backlog: bool = False) -> int:
        """Chain every entry up to the horizon, page after page, then every business record
        changed since the last round; how many entries were chained.

        `wait`: how long to wait for transactions that drew seqs before the call to finish
        (the sweeper does not wait: its next round seals them). `backlog`: chain entries older
        than the backlog too (the operator's decision, after checking the checkpoints)."""
        with self._lock:
            horizon = self._settle(wait)
            total = 0
            while True:
                sealed, more = self._seal_page(horizon, self.page_size, backlog=backlog)
                total += sealed
                if not more:
                    break
        self.records.seal_all()
        return total

    def seal_page(self, limit: int) -> int:
        """Chain up to `limit` entries up to the horizon, by seq; how many were chained."""
        with self._lock:
            return self._seal_page(self._settle(timedelta(0)), limit, backlog=False)[0]

    # -- the horizon -----------------------------------------------------------------------------

    def _settle(self, wait: timedelta) -> int:
        """Move the horizon as far as finished transactions allow; wait up to `wait` for the
        ones running when the call began."""
        deadline = time.monotonic() + wait.total_seconds()
        seq, running = read(self._uow_factory, lambda uow: uow.chain.allocation_mark())
        if len(self._marks) < _MARKS_MAX:
            self._marks.append((running, seq))
        while True:
            if any(running for running, _ in self._marks):
                running_now = read(self._uow_factory, lambda uow: uow.chain.running_xids())
            else:
                running_now = frozenset()
            for running, seq in list(self._marks):
                if not running & running_now:  # all finished: every seq up to it is settled
                    self._horizon = max(self._horizon, seq)
            self._marks = deque(mark for mark in self._marks if mark[1] > self._horizon)
            if not self._marks or time.monotonic() >= deadline:
                return self._horizon
            time.sleep(_POLL_SECONDS)

    # -- a page ----------------------------------------------------------------------------------

    def _seal_page(self, horizon: int, limit: int, *, backlog: bool) -> tuple[int, bool]:
        """Chain up to `limit` entries; (how many, whether more wait below the horizon)."""
        for _ in range(SEAL_ATTEMPTS_MAX):
            snapshot = read(self._uow_factory, partial(self._snapshot, horizon, limit))
            self._check(snapshot)
            records = self._admitted(snapshot, backlog=backlog)
            if not records:
                return 0, False
            links = extend(snapshot.tail, records)
            head = ChainHead.of(links[-1])

            if in_transaction(self._uow_factory, partial(_append, snapshot.head, links)):
                self._known = ChainPoint(head.length, head.hash)
                return len(links), len(snapshot.records) == limit
        return 0, False

    def _snapshot(self, horizon: int, limit: int, uow: UnitOfWork) -> _Snapshot:
        head, tail = uow.chain.head_and_tail()
        known = self._known
        seen = None if known is None or not known.length else uow.chain.link_at(known.length)
        return _Snapshot(
            head=head,
            tail=tail,
            known=seen,
            records=uow.chain.entries_above(head.position, up_to=horizon, limit=limit),
            now=uow.now(),
        )

    def _check(self, snapshot: _Snapshot) -> None:
        """Refuse a chain whose head disagrees with its links or that no longer extends what
        this sealer last saw."""
        if snapshot.head != ChainHead.of(snapshot.tail):
            raise SealRefused(
                f"the {JOURNAL} chain's head ({_describe(snapshot.head)}) disagrees with its "
                f"last link ({_describe(ChainHead.of(snapshot.tail))}): not sealing until "
                "`emissions-ledger verify` has been run and the cause found"
            )
        known = self._known
        if (
            known is not None
            and known.length
            and (snapshot.known is None or snapshot.known.hash != known.head)
        ):
            raise SealRefused(
                f"the {JOURNAL} chain no longer holds link {known.length} as this sealer last "
                "saw it or a checkpoint recorded it: links were removed or rewritten; not "
                "sealing until the cause is found"
            )
        if snapshot.tail is not None:
            self._known = ChainPoint(snapshot.tail.chain_seq, snapshot.tail.hash)

    def _admitted(self, snapshot: _Snapshot, *, backlog: bool) -> list[EntryRecord]:
        """The snapshot's records up to the first one older than the backlog allows."""
        if backlog or self.backlog is None:
            return snapshot.records
        oldest = snapshot.now - self.backlog
        for index, record in enumerate(snapshot.records):
            if record.recorded_at < oldest:
                if index:
                    return snapshot.records[:index]
                raise SealRefused(
                    f"entry {record.entry_id} (seq {record.seq}) was recorded at "
                    f"{record.recorded_at.isoformat()}, more than {self.backlog} ago, and is not "
                    "chained: check the chain against your checkpoints, then run "
                    "`emissions-ledger seal --backlog`"
                )
        return snapshot.records


def _append(seen: ChainHead, links: list[ChainLink], uow: UnitOfWork) -> bool:
    """Append `links` and move the head, unless another sealer moved it since `seen`."""
    if uow.chain.head(lock=True) != seen:
        return False  # compute again on the new head
    now = uow.now()
    uow.chain.append(links, now)
    uow.chain.move_head(ChainHead.of(links[-1]), now)
    return True


def _describe(head: ChainHead) -> str:
    return f"{head.length} links ending in {head.hash[:16]}…, entry seq {head.position}"


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
    """Chain up to `limit` entries up to the horizon, by seq; how many were chained."""
    return sealer_of(uow_factory).seal_page(limit)


def seal_all(
    uow_factory: UnitOfWorkFactory, *, wait: timedelta = SEAL_WAIT, backlog: bool = False
) -> int:
    """Chain every entry committed before the call (waiting up to `wait` for transactions still
    running then); how many entries were chained."""
    return sealer_of(uow_factory).seal_all(wait=wait, backlog=backlog)


def seal_round(uow_factory: UnitOfWorkFactory) -> int:
    """The background sweeper's round: chain what is settled now, without waiting."""
    return sealer_of(uow_factory).seal_all()


# -- verification --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """One chain recomputed from chain_seq 1: how far it holds and its first problem."""

    chain: str
    verified: int  # links verified before the first break (all of them when none)
    first_break: ChainBreak | None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Every chain recomputed and the balance invariants rechecked."""

    chains: list[ChainVerdict]
    violations: list[Violation]

    @property
    def ok(self) -> bool:
        return all(c.first_break is None for c in self.chains) and not self.violations

    def of(self, chain: str) -> ChainVerdict:
        return next(verdict for verdict in self.chains if verdict.chain == chain)


def verify(
    uow_factory: UnitOfWorkFactory,
    *,
    anchors: Mapping[str, Mapping[int, Anchor]] | None = None,
    page_size: int = VERIFY_PAGE_SIZE,
    unchained_grace: timedelta = UNCHAINED_GRACE,
) -> VerifyReport:
    """Recompute every chain — the journal's and each business record chain — (against the
    links `anchors` name per chain: checkpoints) and every invariant; never writes."""
    anchors = anchors or {}
    verdicts = [
        verify_journal(
            uow_factory,
            anchors=anchors.get(JOURNAL, {}),
            page_size=page_size,
            unchained_grace=unchained_grace,
        )
    ]
    for name in read(uow_factory, lambda uow: uow.records.chains):
        verified, broken = verify_chain(
            uow_factory,
            name,
            anchors=anchors.get(name, {}),
            page_size=page_size,
            grace=unchained_grace,
        )
        verdicts.append(ChainVerdict(name, verified, broken))
    violations = read(uow_factory, lambda uow: uow.journal.find_violations())
    return VerifyReport(verdicts, violations)


def _links(
    uow: UnitOfWork, *, after: int, limit: int
) -> list[tuple[ChainLink, EntryRecord | None]]:
    return uow.chain.links(after, limit)


def _walk(
    uow_factory: UnitOfWorkFactory,
    walker: ChainWalker,
    *,
    page_size: int,
    until: int | None = None,
    watch: int | None = None,
) -> str | None:
    """Feed the walker the links after where it starts, up to `until` (None: the end), page by
    page, until the first break; the hash of link `watch` if the walk passed it."""
    watched = None
    while walker.broken is None:
        limit = page_size if until is None else min(page_size, until - walker.last_chain_seq)
        if limit <= 0:
            break
        page = read(uow_factory, partial(_links, after=walker.last_chain_seq, limit=limit))
        for index, (link, record) in enumerate(page):
            broken = walker.check(link, record)
            if broken is not None:
                if broken.problem is ChainProblem.HASH_MISMATCH and record is not None:
                    following = [later for later, _ in page[index + 1 :]]
                    walker.broken = explain_hash_mismatch(broken, record, following)
                break
            if link.chain_seq == watch:
                watched = link.hash
        if len(page) < limit:
            break
    return watched


def verify_journal_links(
    uow_factory: UnitOfWorkFactory,
    *,
    since: ChainPoint | None,
    until: int,
    page_size: int = VERIFY_PAGE_SIZE,
) -> ChainVerdict:
    """Recompute the journal's links after `since` (where a checkpoint left it; None: from the
    start) up to `until`: whether the chain still holds `since` and extends it soundly."""
    start = None
    if since is not None and since.length:
        link = read(uow_factory, lambda uow: uow.chain.link_at(since.length))
        if link is None or link.hash != since.head:
            return ChainVerdict(
                JOURNAL,
                0,
                ChainBreak(
                    since.length,
                    None,
                    ChainProblem.CHECKPOINT_MISMATCH,
                    f"link {since.length} is not the one the last checkpoint recorded",
                ),
            )
        start = ChainHead(link.chain_seq, link.hash, link.entry_seq)
    walker = ChainWalker(start)
    _walk(uow_factory, walker, page_size=page_size, until=until)
    if walker.broken is None and walker.last_chain_seq < until:
        walker.broken = ChainBreak(
            walker.last_chain_seq + 1, None, ChainProblem.GAP, "the chain ends early"
        )
    return ChainVerdict(JOURNAL, walker.checked, walker.broken)


def verify_journal(
    uow_factory: UnitOfWorkFactory,
    *,
    anchors: Mapping[int, Anchor] | None = None,
    page_size: int = VERIFY_PAGE_SIZE,
    unchained_grace: timedelta = UNCHAINED_GRACE,
) -> ChainVerdict:
    """Recompute the journal's chain (streamed in pages) against its head and `anchors`; report
    the first problem: a broken link, a link a checkpoint recorded otherwise or that is gone, a
    head that disagrees, an entry the chain should hold but does not, or an entry left
    unchained too long."""
    head_before = read(uow_factory, lambda uow: uow.chain.head())
    walker = ChainWalker(anchors=anchors)
    at_head = _walk(uow_factory, walker, page_size=page_size, watch=head_before.length)
    broken = walker.broken or walker.truncation() or _head_break(walker, head_before, at_head)
    if broken is None:
        broken = read(uow_factory, partial(_accounting_break, walker, unchained_grace))
    return ChainVerdict(JOURNAL, walker.checked, broken)


def _head_break(walker: ChainWalker, before: ChainHead, at_head: str | None) -> ChainBreak | None:
    """The head read before the walk must be a link the walk verified (sealers only extend)."""
    if before.length == 0 or at_head == before.hash:
        return None
    walked = ChainHead(walker.last_chain_seq, walker.last_hash, walker.last_entry_seq)
    return ChainBreak(
        None,
        None,
        ChainProblem.HEAD_MISMATCH,
        f"the head records {_describe(before)} but the chain holds {_describe(walked)}",
    )


def _accounting_break(walker: ChainWalker, grace: timedelta, uow: UnitOfWork) -> ChainBreak | None:
    """Links beyond the head, entries the chain should hold but does not, and entries left
    unchained too long."""
    head = uow.chain.head()  # read after the walk: it covers every link a sealer appended
    walked = ChainHead(walker.last_chain_seq, walker.last_hash, walker.last_entry_seq)
    if walked.length > head.length:
        return ChainBreak(
            head.length + 1,
            None,
            ChainProblem.HEAD_MISMATCH,
            f"the chain holds {_describe(walked)} but its head records {_describe(head)}: links "
            "were added behind the sealer",
        )
    position = max(walked.position, head.position)
    missing = uow.chain.first_unaccounted(position)
    if missing is not None:
        why = (
            f"has seq {missing.seq}: the ledger never draws a seq below 1"
            if missing.seq < 1
            else f"(seq {missing.seq}) is below the last entry chained (seq {position}) but not "
            "in the chain"
        )
        return ChainBreak(None, missing.entry_id, ChainProblem.UNACCOUNTED, f"the entry {why}")
    waiting = uow.chain.first_above(position)
    if waiting is not None and waiting.recorded_at < uow.now() - grace:
        return ChainBreak(
            None,
            waiting.entry_id,
            ChainProblem.NOT_CHAINED,
            f"recorded at {waiting.recorded_at.isoformat()} and still not chained",
        )
    return None
