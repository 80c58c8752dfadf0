"""Tamper evidence: sealing the journal into its hash chain, and verifying chain and balances.

Sealing is asynchronous (the write path never touches the chain, so writers never queue behind
one row): the links are computed from a read-only snapshot, then appended in a short write
transaction that holds the sealers' lock and first checks that the tail is still the one the
links were computed on (sealing is the chain's only writer; a sealer that lost a race retries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from ledger.domain.chain import ChainBreak, ChainLink, ChainProblem, ChainWalker, extend
from ledger.domain.entries import EntryRecord
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory, Violation
from ledger.services.transactions import in_transaction, read

SEAL_PAGE_SIZE = 1_000
VERIFY_PAGE_SIZE = 1_000
# An entry committed this long ago and still not chained is reported: the sealer is not running.
UNCHAINED_GRACE = timedelta(seconds=60)
SEAL_ATTEMPTS_MAX = 10


def seal_journal(uow_factory: UnitOfWorkFactory, limit: int = SEAL_PAGE_SIZE) -> int:
    """Chain up to `limit` committed entries not chained yet, by seq; how many were chained."""

    def snapshot(uow: UnitOfWork) -> tuple[ChainLink | None, list[EntryRecord]]:
        return uow.chain.tail(), uow.chain.unchained(limit)

    for _ in range(SEAL_ATTEMPTS_MAX):
        tail, records = read(uow_factory, snapshot)
        if not records:
            return 0
        links = extend(tail, records)

        def append(
            uow: UnitOfWork, tail: ChainLink | None = tail, links: list[ChainLink] = links
        ) -> bool:
            if uow.chain.tail(lock=True) != tail:
                return False  # another sealer moved the tail: compute again
            uow.chain.append(links, uow.now())
            return True

        if in_transaction(uow_factory, append):
            return len(links)
    return 0


def seal_all(uow_factory: UnitOfWorkFactory, limit: int = SEAL_PAGE_SIZE) -> int:
    """Seal page after page until nothing is left; how many entries were chained."""
    total = 0
    while True:
        sealed = seal_journal(uow_factory, limit)
        total += sealed
        if sealed < limit:
            return total


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
        seal_all(uow_factory)
    walker = ChainWalker()
    while walker.broken is None:
        page = read(uow_factory, partial(_links, after=walker.last_chain_seq, limit=page_size))
        for link, record in page:
            if walker.check(link, record) is not None:
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
