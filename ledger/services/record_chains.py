"""Sealing and verifying the business records' chains (trades, entitlements, principals, the
audit log, …: `ledger.persistence.record_chains.CHAINS`).

The sealer drains the queue of changes the chained tables' triggers write: a page of changes is
read with each record as it now is, a link is computed for every record whose digest is not the
one its chain last sealed, and the links are appended — with the page's changes forgotten — in
one short transaction that locks the touched chains' heads (in name order) and first checks that
none moved. Like the journal's sealer it refuses a chain whose head disagrees with its last link
or that no longer holds a link it saw or a checkpoint names.

Verify never writes: per chain it recomputes every link from seq 1, compares each record with
its latest link (a change waiting in the queue excepted), reports records no link seals and
changes waiting too long.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from ledger.domain.chain import Anchor, ChainBreak, ChainHead, ChainProblem, SealRefused
from ledger.domain.checkpoints import ChainPoint
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.records import (
    DELETED,
    RecordLink,
    RecordWalker,
    extend_records,
    head_of,
    record_digest,
    version_break,
)
from ledger.services.transactions import in_transaction, read

PAGE_SIZE = 2_000
ATTEMPTS_MAX = 10


@dataclass(frozen=True, slots=True)
class _Chain:
    head: ChainHead
    tail: RecordLink | None
    seen: RecordLink | None  # the link where the sealer last saw the chain end
    links: list[RecordLink]


@dataclass(frozen=True, slots=True)
class _Plan:
    chains: dict[str, _Chain]
    changes: list[int]  # the queue's seqs the plan seals
    full: bool  # the page was full: more changes may wait
    now: datetime


class RecordSealer:
    """Seals the record chains from the queue of changes; safe to share between threads."""

    def __init__(self, uow_factory: UnitOfWorkFactory, *, page_size: int = PAGE_SIZE) -> None:
        self._uow_factory = uow_factory
        self.page_size = page_size
        self._lock = threading.Lock()
        self._known: dict[str, ChainPoint] = {}  # where each chain ended when last seen

    def anchor(self, chain: str, point: ChainPoint) -> None:
        """The chain must still hold this link (a checkpoint's) for the sealer to extend it."""
        with self._lock:
            known = self._known.get(chain)
            if known is None or point.length > known.length:
                self._known[chain] = point

    def seal_all(self) -> int:
        """Seal every change waiting, page after page; how many links were appended."""
        with self._lock:
            total = 0
            while True:
                sealed, more = self._seal_page()
                total += sealed
                if not more:
                    return total

    def _seal_page(self) -> tuple[int, bool]:
        for _ in range(ATTEMPTS_MAX):
            plan = read(self._uow_factory, self._plan)
            if not plan.changes:
                return 0, False
            self._check(plan)
            if in_transaction(self._uow_factory, partial(_append, plan)):
                for name, planned in plan.chains.items():
                    last = planned.links[-1] if planned.links else planned.tail
                    if last is not None:
                        self._known[name] = ChainPoint(last.seq, last.hash)
                return sum(len(c.links) for c in plan.chains.values()), plan.full
        return 0, False

    def _plan(self, uow: UnitOfWork) -> _Plan:
        changes = uow.records.changes(self.page_size)
        keys: dict[str, dict[str, None]] = defaultdict(dict)  # by chain, in order, once each
        known_chains = set(uow.records.chains)
        for _, name, key in changes:
            if name in known_chains:  # anything else in the queue is forgotten
                keys[name][key] = None
        chains = {}
        for name, wanted in sorted(keys.items()):
            head, tail = uow.records.head_and_tail(name)
            known = self._known.get(name)
            seen = None if known is None else uow.records.link_at(name, known.length)
            contents = uow.records.contents(name, wanted)
            sealed = uow.records.latest(name, wanted)
            versions = [
                (key, digest)
                for key in wanted
                if (digest := record_digest(contents[key])) != sealed.get(key, DELETED)
            ]
            chains[name] = _Chain(head, tail, seen, extend_records(name, tail, versions))
        seqs = [seq for seq, _, _ in changes]
        return _Plan(chains, seqs, len(changes) == self.page_size, uow.now())

    def _check(self, plan: _Plan) -> None:
        for name, planned in plan.chains.items():
            if planned.head != head_of(planned.tail):
                raise SealRefused(
                    f"the {name} chain's head ({planned.head.length} links) disagrees with its "
                    f"last link ({head_of(planned.tail).length} links): not sealing until "
                    "`emissions-ledger verify` has been run and the cause found"
                )
            known = self._known.get(name)
            if known is not None and (planned.seen is None or planned.seen.hash != known.head):
                raise SealRefused(
                    f"the {name} chain no longer holds link {known.length} as this sealer last "
                    "saw it or a checkpoint recorded it: links were removed or rewritten"
                )


def _append(plan: _Plan, uow: UnitOfWork) -> bool:
    """Append every chain's links and forget the page's changes, unless a head moved."""
    for name, planned in sorted(plan.chains.items()):
        if uow.records.head(name, lock=True) != planned.head:
            return False  # another sealer moved it: plan again
    for name, planned in sorted(plan.chains.items()):
        uow.records.append(name, planned.links, plan.now)
    uow.records.forget(plan.changes)
    return True


# -- verification --------------------------------------------------------------------------------


def verify_chain(
    uow_factory: UnitOfWorkFactory,
    chain: str,
    *,
    anchors: Mapping[int, Anchor] | None = None,
    page_size: int,
    grace: timedelta,
) -> tuple[int, ChainBreak | None]:
    """Recompute `chain` against its head and `anchors`, and every record against its latest
    link; (links verified, the first problem)."""
    head_before = read(uow_factory, lambda uow: uow.records.head(chain))
    walker = RecordWalker(chain, anchors)
    at_head: str | None = None
    while walker.broken is None:
        page = read(uow_factory, lambda uow: uow.records.links(chain, walker.last_seq, page_size))
        latest = []
        for link, is_latest in page:
            if walker.check(link) is not None:
                break
            if link.seq == head_before.length:
                at_head = link.hash
            if is_latest:
                latest.append(link)
        if latest and walker.broken is None:
            walker.broken = read(uow_factory, partial(_versions_break, chain, latest))
        if len(page) < page_size:
            break
    broken = walker.broken or walker.truncation()
    if broken is None and head_before.length and at_head != head_before.hash:
        broken = ChainBreak(
            None,
            None,
            ChainProblem.HEAD_MISMATCH,
            f"the head records {head_before.length} links but the chain holds "
            f"{walker.last_seq}: links were removed from its end",
        )
    if broken is None:
        broken = read(uow_factory, partial(_accounting_break, chain, walker.last_seq, grace))
    return walker.checked, broken


def _links(chain: str, after: int, limit: int, uow: UnitOfWork) -> list[tuple[RecordLink, bool]]:
    return uow.records.links(chain, after, limit)


def _versions_break(chain: str, links: list[RecordLink], uow: UnitOfWork) -> ChainBreak | None:
    """The first of `links` (each its record's latest) whose record now says otherwise."""
    keys = [link.key for link in links]
    current = {
        key: record_digest(content) for key, content in uow.records.contents(chain, keys).items()
    }
    differing = [link for link in links if current[link.key] != link.digest]
    if not differing:
        return None
    # Read after the records: a change sealed since the page was read shows here, one not yet
    # sealed is still queued.
    queued = uow.records.queued(chain, [link.key for link in differing])
    resealed = uow.records.latest(chain, [link.key for link in differing])
    for link in differing:
        if resealed.get(link.key) == current[link.key]:
            continue
        broken = version_break(link, current[link.key], queued=link.key in queued)
        if broken is not None:
            return broken
    return None


def _accounting_break(
    chain: str, walked: int, grace: timedelta, uow: UnitOfWork
) -> ChainBreak | None:
    head = uow.records.head(chain)  # read after the walk: it covers every link appended
    if walked > head.length:
        return ChainBreak(
            head.length + 1,
            None,
            ChainProblem.HEAD_MISMATCH,
            f"the chain holds {walked} links but its head records {head.length}: links were "
            "added behind the sealer",
        )
    missing = uow.records.first_unaccounted(chain)
    if missing is not None:
        return ChainBreak(
            None,
            missing,
            ChainProblem.RECORD_UNACCOUNTED,
            "no link seals this record and no change of it waits to be sealed",
        )
    stale = uow.records.stale_change(chain, grace)
    if stale is not None:
        return ChainBreak(
            None,
            stale[0],
            ChainProblem.RECORD_NOT_CHAINED,
            f"changed at {stale[1].isoformat()} and still not sealed",
        )
    return None


def verify_links(
    uow_factory: UnitOfWorkFactory,
    chain: str,
    *,
    since: ChainPoint | None,
    until: int,
    page_size: int,
) -> ChainBreak | None:
    """Whether `chain` still holds `since` (a checkpoint's link) and its links up to `until`
    extend it soundly (links only: what a new checkpoint certifies)."""
    start = None
    if since is not None and since.length:
        start = read(uow_factory, lambda uow: uow.records.link_at(chain, since.length))
        if start is None or start.hash != since.head:
            return ChainBreak(
                since.length,
                None,
                ChainProblem.CHECKPOINT_MISMATCH,
                f"link {since.length} is not the one the last checkpoint recorded",
            )
    walker = RecordWalker(chain, start=start)
    while walker.broken is None and walker.last_seq < until:
        limit = min(page_size, until - walker.last_seq)
        page = read(uow_factory, partial(_links, chain, walker.last_seq, limit))
        for link, _ in page:
            if walker.check(link) is not None:
                break
        if len(page) < limit:
            break
    if walker.broken is None and walker.last_seq < until:
        return ChainBreak(walker.last_seq + 1, None, ChainProblem.GAP, "the chain ends early")
    return walker.broken
