"""Use cases that write the journal: post, batch, bulk, reverse, and the two-phase lifecycle.

Every write runs `_write`: build the records inside one locked transaction, commit, and on the
way out turn a taken entry id into an idempotent replay (same request) or a 409 (another one).
A rejected attempt stores nothing, so it does not pin its entry id: fix the request and retry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.domain.access import Actor, Pending
from ledger.domain.accounts import Account, Balance
from ledger.domain.amounts import AmountText, Instrument, amount_text
from ledger.domain.entries import (
    BalanceKey,
    EntryDraft,
    EntryRecord,
    EntryStatus,
    PostingDraft,
    PostingRecord,
    PostingRequest,
    Reference,
    book,
    canonical_hash,
    check_posting_count,
    instant_text,
    partial_post_postings,
    release_pending,
    reversal_postings,
    to_posting_drafts,
)
from ledger.domain.errors import (
    BatchPartiallyExists,
    BatchTooLarge,
    DuplicateEntryInRequest,
    EntryAlreadyReversed,
    EntryExistsWithDifferentRequest,
    EntryNotFound,
    EntryNotReversible,
    InvalidField,
    LedgerError,
    NotPending,
    PendingAlreadyPosted,
    PendingAlreadyVoided,
    PendingExpired,
    RetryableConflict,
    StorageConflict,
    TooFewPostings,
    UnknownAccount,
)
from ledger.domain.finance import closed_period_error
from ledger.domain.limits import ENTRIES_PER_BATCH_MAX, ITEMS_PER_BULK_MAX
from ledger.domain.ports import NewEntry, UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import locked_last
from ledger.services.transactions import in_transaction, read, rejected

REPLAY_ATTEMPTS_MAX = 3
SYSTEM_ENTRY_ID_PREFIX = "~"  # records the ledger writes itself (expiries); clients cannot


@dataclass(frozen=True, slots=True)
class PostEntry:
    """Command: post an entry now, or place it pending (a hold) when `pending` is true."""

    entry_id: str
    entry_type: str
    postings: tuple[PostingRequest, ...]
    effective_at: datetime | None = None
    memo: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[Reference, ...] = ()
    pending: bool = False
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReverseEntry:
    """Command: reverse a posted entry with a new entry `entry_id`."""

    original_entry_id: str
    entry_id: str
    effective_at: datetime | None = None
    memo: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResolvePending:
    """Command: post (all, or the `postings` part of it) or void a pending entry."""

    pending_entry_id: str
    entry_id: str
    postings: tuple[PostingRequest, ...] | None = None
    effective_at: datetime | None = None
    memo: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Posted:
    """A written record; `replayed` when a retry found it already written by the same request."""

    entry: EntryRecord
    replayed: bool
    instruments: Mapping[str, Instrument]  # of the entry's postings, to present amounts


@dataclass(frozen=True, slots=True)
class BulkItemResult:
    """Outcome of one bulk item: `created`, `replayed` or `rejected` with the rejection's code."""

    index: int
    entry_id: str
    outcome: str
    posted: Posted | None = None
    error: LedgerError | None = None


@dataclass(frozen=True, slots=True)
class LockedBalances:
    """Balances a use case locked in its one ordered lock (`lock`), with their accounts (flags
    as the lock read them) and the recorded time of its write. Its checks read them (`by_code`),
    and `write_in` books against them instead of locking them again. `later`: the accounts of
    balances left to lock when the write books them (`lock(..., defer_last=True)`)."""

    accounts: dict[str, Account]
    balances: dict[BalanceKey, Balance]
    recorded_at: datetime
    later: dict[str, Account] = field(default_factory=dict)

    def by_code(self) -> dict[tuple[str, str], Balance]:
        """The balances keyed by (account code, instrument)."""
        codes = {account.id: code for code, account in self.accounts.items()}
        return {(codes[key[0]], key[1]): balance for key, balance in self.balances.items()}

    def covering(
        self, uow: UnitOfWork, postings: Sequence[PostingDraft]
    ) -> tuple[dict[str, Account], dict[BalanceKey, Balance], datetime]:
        """What booking `postings` needs: the accounts, the balances they touch (only those are
        saved; those `later` locked now) and the recorded time."""
        known = self.accounts | self.later
        assert all(p.account_code in known for p in postings), "accounts not locked"
        keys = {(known[p.account_code].id, p.instrument_code) for p in postings}
        accounts, balances, recorded_at = self.accounts, self.balances, self.recorded_at
        later_ids = {account.id for account in self.later.values()}
        later = {key for key in keys if key[0] in later_ids}
        if later:
            locked_now, balances_now = uow.journal.lock(self.later, later)
            accounts = accounts | locked_now  # `self.later`, with the flags the lock read
            balances = balances | balances_now
            recorded_at = max(recorded_at, _recorded_at(uow, balances_now))
        assert keys <= balances.keys(), f"not locked first: {keys - balances.keys()}"
        return accounts, {key: balances[key] for key in keys}, recorded_at


Build = Callable[[UnitOfWork, dict[str, str]], list[NewEntry]]
# Runs first inside the write's transaction: None to go ahead, or the four-eyes request instead
# (a guard lets a retry of entries already written go ahead: the write then replays them).
Guard = Callable[[UnitOfWork], Pending | None]


# -- use cases ---------------------------------------------------------------------------


def post_entry(uow_factory: UnitOfWorkFactory, command: PostEntry) -> Posted:
    """Post one entry (or place one pending entry) atomically and idempotently."""
    return post_batch(uow_factory, [command])[0]


def post_batch(uow_factory: UnitOfWorkFactory, commands: Sequence[PostEntry]) -> list[Posted]:
    """Post several entries in one database transaction: all of them or none."""
    written = write_entries(uow_factory, commands)
    assert not isinstance(written, Pending), "no guard, nothing to approve"
    return written


def write_entries(
    uow_factory: UnitOfWorkFactory,
    commands: Sequence[PostEntry],
    *,
    actor: Actor | None = None,
    guard: Guard | None = None,
) -> list[Posted] | Pending:
    """`post_batch`, audited for `actor`, with `guard` run first inside the same transaction
    (it may answer `Pending` instead: the entries wait for a second principal)."""
    _check_batch(commands, ENTRIES_PER_BATCH_MAX)
    return _write(
        uow_factory,
        [c.entry_id for c in commands],
        lambda uow, h: _build(uow, commands, h),
        actor=actor,
        guard=guard,
    )


def post_bulk(
    uow_factory: UnitOfWorkFactory,
    commands: Sequence[PostEntry],
    post: Callable[[PostEntry], Posted] | None = None,
) -> list[BulkItemResult]:
    """Post each entry on its own (with `post`, by default `post_entry`): one failing item does
    not stop the others."""
    _check_batch(commands, ITEMS_PER_BULK_MAX)
    results = []
    for index, command in enumerate(commands):
        try:
            posted = post(command) if post else post_entry(uow_factory, command)
        except LedgerError as error:
            results.append(BulkItemResult(index, command.entry_id, "rejected", error=error))
            continue
        outcome = "replayed" if posted.replayed else "created"
        results.append(BulkItemResult(index, command.entry_id, outcome, posted=posted))
    return results


def reverse_entry(uow_factory: UnitOfWorkFactory, command: ReverseEntry) -> Posted:
    """Reverse a posted entry once: a new entry with every side swapped."""
    written = write_reversal(uow_factory, command)
    assert not isinstance(written, Pending), "no guard, nothing to approve"
    return written


def write_reversal(
    uow_factory: UnitOfWorkFactory,
    command: ReverseEntry,
    *,
    actor: Actor | None = None,
    guard: Guard | None = None,
) -> Posted | Pending:
    """`reverse_entry`, audited for `actor`, behind `guard` (see `write_entries`)."""
    return _one(
        _write(
            uow_factory,
            [command.entry_id],
            lambda uow, h: [_build_reversal(uow, command, h)],
            actor=actor,
            guard=guard,
        )
    )


def post_pending_entry(
    uow_factory: UnitOfWorkFactory,
    command: ResolvePending,
    *,
    actor: Actor | None = None,
    guard: Guard | None = None,
) -> Posted:
    """Post a pending entry in full or the part named in `command.postings`; release the rest."""
    written = _write(
        uow_factory,
        [command.entry_id],
        lambda uow, h: [_build_resolution(uow, command, EntryStatus.POSTED, h)],
        actor=actor,
        guard=guard,
    )
    assert not isinstance(written, Pending), "a resolution is never four-eyes"
    return written[0]


def void_pending_entry(
    uow_factory: UnitOfWorkFactory,
    command: ResolvePending,
    *,
    actor: Actor | None = None,
    guard: Guard | None = None,
) -> Posted:
    """Void a pending entry: its reserved amounts return to the accounts."""
    if command.postings is not None:
        raise InvalidField("a void takes no postings", field="postings")
    written = _write(
        uow_factory,
        [command.entry_id],
        lambda uow, h: [_build_resolution(uow, command, EntryStatus.VOIDED, h)],
        actor=actor,
        guard=guard,
    )
    assert not isinstance(written, Pending), "a resolution is never four-eyes"
    return written[0]


def _one(written: list[Posted] | Pending) -> Posted | Pending:
    return written if isinstance(written, Pending) else written[0]


def expire_pending_entries(uow_factory: UnitOfWorkFactory, limit: int = 100) -> list[str]:
    """Expire pending entries whose deadline has passed; returns the ids of those expired."""
    due = read(uow_factory, lambda uow: uow.journal.due_pending(uow.now(), limit))
    expired = []
    for pending in due:
        try:
            in_transaction(uow_factory, lambda uow, p=pending: _insert_expiry(uow, p))  # type: ignore[misc]
        except StorageConflict:
            continue  # resolved concurrently by someone else: nothing left to expire
        expired.append(pending.entry_id)
    return expired


def write_in(
    uow: UnitOfWork,
    commands: Sequence[PostEntry] = (),
    *,
    resolve: ResolvePending | None = None,
    void: bool = False,
    pending_entry: EntryRecord | None = None,
    locked: LockedBalances | None = None,
) -> list[EntryRecord]:
    """Inside the caller's unit of work (the caller commits): resolve one pending entry (post it
    in full, or void it), then post `commands`, all in that one transaction.

    For use cases that change a business record and the journal atomically (a trade is recorded:
    its hold is posted and its state changes together). There is no idempotent replay here: the
    caller makes a retry safe through its record's state, and entry ids stay unique in any case.
    What the caller read already is not read again: `pending_entry`, the entry `resolve` names;
    `locked`, the balances it locked (every one the entries touch; for a resolution or for
    `commands`, not both: a balance saved once is locked afresh before it changes again).
    """
    assert locked is None or resolve is None or not commands, "one write per lock"
    hashes: dict[str, str] = {}
    records: list[EntryRecord] = []
    if resolve is not None:
        status = EntryStatus.VOIDED if void else EntryStatus.POSTED
        resolution = _build_resolution(uow, resolve, status, hashes, pending_entry, locked)
        records += uow.journal.insert([resolution])
    if commands:
        _check_batch(commands, ENTRIES_PER_BATCH_MAX)
        records += uow.journal.insert(_build(uow, commands, hashes, locked))
    return records


def lock(
    uow: UnitOfWork, pairs: Iterable[tuple[str, str]], *, defer_last: bool = False
) -> LockedBalances:
    """Lock the balances of (account code, instrument) pairs in one order, before any other
    balance lock of the transaction, so that writers never wait for each other in a circle.
    Accounts that do not exist are left out (an entry posting to one is refused).

    `defer_last`: revenue accounts' balances (`locked_last`, which every priced trade credits)
    are locked only when the write books them, still after all the others: writers then queue
    on that one shared row for the write and the commit alone, not for the use case's reads
    and checks too. Their balances are not in `by_code` (no check reads them)."""
    wanted = set(pairs)
    accounts = uow.accounts.cached(code for code, _ in wanted)
    later = {c: a for c, a in accounts.items() if defer_last and locked_last(c)}
    keys = {
        (accounts[code].id, instrument)
        for code, instrument in wanted
        if code in accounts and code not in later
    }
    locked_accounts, balances = uow.journal.lock(accounts, keys)
    return LockedBalances(locked_accounts, balances, _recorded_at(uow, balances), later)


def is_replay(
    uow: UnitOfWork, commands: Sequence[PostEntry], stored: Mapping[str, EntryRecord]
) -> bool:
    """Whether `stored` holds every command's entry, each written from the same request (so a
    use case that names its entries after an operation id can answer a retry with them)."""
    instruments = uow.instruments.get_many(
        {p.instrument_code for c in commands for p in c.postings}
    )
    for command in commands:
        record = stored.get(command.entry_id)
        draft = _draft(command, to_posting_drafts(command.postings, instruments))
        if record is None or record.request_hash != draft.request_hash():
            return False
    return True


# -- idempotent writing ------------------------------------------------------------------


def _write(
    uow_factory: UnitOfWorkFactory,
    entry_ids: list[str],
    build: Build,
    *,
    actor: Actor | None = None,
    guard: Guard | None = None,
) -> list[Posted] | Pending:
    for entry_id in entry_ids:
        if entry_id.startswith(SYSTEM_ENTRY_ID_PREFIX):
            raise InvalidField(
                f"entry ids starting with {SYSTEM_ENTRY_ID_PREFIX!r} are the ledger's own",
                field="entry_id",
            )
    # Builders record each request hash as soon as it is known, before any rule can refuse the
    # request, so a retry of an already-applied request is recognised even when re-applying it
    # would now be refused (say, the hold it posts is no longer pending).
    hashes: dict[str, str] = {}

    def attempt(uow: UnitOfWork) -> list[Posted] | Pending:
        pending = None if guard is None else guard(uow)
        if pending is not None:
            return pending
        return _posted(uow, uow.journal.insert(build(uow, hashes)), False)

    for _ in range(REPLAY_ATTEMPTS_MAX):
        try:
            return in_transaction(uow_factory, attempt, actor=actor, audit_rejection=False)
        except StorageConflict:
            replayed = _replay(uow_factory, entry_ids, hashes)
            if replayed is not None:
                return replayed
            # The holder of the key rolled back, or a concurrent reversal or resolution won:
            # the next attempt sees the winner after the lock and refuses with its own code.
        except LedgerError as error:
            replayed = _replay(uow_factory, entry_ids, hashes)
            if replayed is None:
                if actor is not None:
                    rejected(uow_factory, actor, error)
                raise
            return replayed
    raise RetryableConflict("entry id contention did not settle")


def _replay(
    uow_factory: UnitOfWorkFactory, entry_ids: list[str], hashes: Mapping[str, str]
) -> list[Posted] | None:
    """The stored result of an earlier identical request, or None if nothing was stored."""
    existing = read(uow_factory, lambda uow: uow.journal.get_many(entry_ids))
    if not existing or not all(entry_id in hashes for entry_id in entry_ids):
        return None
    records = [existing[entry_id] for entry_id in entry_ids if entry_id in existing]
    for entry_id in entry_ids:
        record = existing.get(entry_id)
        if record is not None and record.request_hash != hashes[entry_id]:
            raise EntryExistsWithDifferentRequest(
                f"entry {entry_id} was already written from a different request",
                field="entry_id",
                entry_id=entry_id,
            )
    if len(existing) < len(entry_ids):
        missing = [entry_id for entry_id in entry_ids if entry_id not in existing]
        raise BatchPartiallyExists(
            f"entries {sorted(existing)} exist but {missing} do not", field="entries"
        )
    return read(uow_factory, lambda uow: _posted(uow, records, True))


def _posted(uow: UnitOfWork, records: Sequence[EntryRecord], replayed: bool) -> list[Posted]:
    instruments = uow.instruments.get_many(
        {p.instrument_code for record in records for p in record.postings}
    )
    return [Posted(record, replayed, instruments) for record in records]


def _check_batch(commands: Sequence[PostEntry], limit: int) -> None:
    if not commands:
        raise InvalidField("at least one entry is required", field="entries")
    if len(commands) > limit:
        raise BatchTooLarge(
            f"at most {limit} entries per request, got {len(commands)}", field="entries"
        )
    seen: set[str] = set()
    for index, command in enumerate(commands):
        if command.entry_id in seen:
            raise DuplicateEntryInRequest(
                f"entry id {command.entry_id} appears twice", field=f"entries[{index}].entry_id"
            )
        seen.add(command.entry_id)


# -- building records inside the locked transaction -------------------------------------


def _build(
    uow: UnitOfWork,
    commands: Sequence[PostEntry],
    hashes: dict[str, str],
    locked: LockedBalances | None = None,
) -> list[NewEntry]:
    blame = _blame if len(commands) > 1 else _blame_nobody
    instruments = uow.instruments.get_many(
        {p.instrument_code for c in commands for p in c.postings}
    )
    text = amount_text(instruments)
    now = uow.now()
    drafts = []
    for index, command in enumerate(commands):
        with blame(index):
            check_posting_count(len(command.postings))
            draft = _draft(command, to_posting_drafts(command.postings, instruments))
            draft.validate(text)
            hashes[draft.entry_id] = draft.request_hash()  # before any rule that time can break
            if draft.expires_at is not None and draft.expires_at <= now:
                raise InvalidField("expires_at must be in the future", field="expires_at")
        drafts.append(draft)
    for index, draft in enumerate(drafts):
        with blame(index):
            _check_period_open(uow, draft.effective_at)
    accounts = uow.accounts.cached(p.account_code for d in drafts for p in d.postings)
    for index, draft in enumerate(drafts):
        with blame(index):
            _check_known(accounts, draft.postings)
    postings = [p for d in drafts for p in d.postings]
    if locked is None:
        accounts, balances, recorded_at = _lock_balances(uow, accounts, postings)
    else:
        accounts, balances, recorded_at = locked.covering(uow, postings)
    new_entries = []
    for index, draft in enumerate(drafts):
        with blame(index):
            booked = book(draft.postings, accounts, balances, pending=draft.pending, text=text)
        status = EntryStatus.PENDING if draft.pending else EntryStatus.POSTED
        new_entries.append(_new_entry(draft, hashes[draft.entry_id], status, booked, recorded_at))
    uow.journal.save_balances(balances.values(), recorded_at)
    return new_entries


def _text(uow: UnitOfWork, postings: Iterable[PostingDraft | PostingRecord]) -> AmountText:
    """How errors name amounts of these postings' instruments: in their unit."""
    return amount_text(uow.instruments.get_many({p.instrument_code for p in postings}))


def _check_period_open(uow: UnitOfWork, effective_at: datetime | None) -> None:
    """A back-dated entry into a closed period is refused here, naming the period. An entry
    effective now costs no query: the database's trigger is its guard (and the race-safe guard of
    every entry, since a close locks out writers until it commits)."""
    if effective_at is not None:
        label = uow.finance.closed_period_among([effective_at])
        if label is not None:
            raise closed_period_error(label)


class _blame:  # noqa: N801 - used as a function: `with blame(index):`
    """Prefix the field of a rejection with the batch entry it comes from. (A class: a
    generator-based context manager cost a few µs per use, four uses per entry.)"""

    __slots__ = ("_index",)

    def __init__(self, index: int) -> None:
        self._index = index

    def __enter__(self) -> None:
        pass

    def __exit__(self, exc_type: object, error: BaseException | None, tb: object) -> None:
        if isinstance(error, LedgerError):
            error.field = f"entries[{self._index}]" + (f".{error.field}" if error.field else "")


class _blame_nobody:  # noqa: N801 - used as a function: `with blame(index):`
    """A single entry's rejection names its own fields."""

    __slots__ = ()

    def __init__(self, _: int) -> None:
        pass

    def __enter__(self) -> None:
        pass

    def __exit__(self, exc_type: object, error: BaseException | None, tb: object) -> None:
        pass


def _draft(command: PostEntry, postings: Iterable[Any]) -> EntryDraft:
    return EntryDraft(
        entry_id=command.entry_id,
        entry_type=command.entry_type,
        postings=tuple(postings),
        effective_at=command.effective_at,
        memo=command.memo,
        metadata=command.metadata,
        references=command.references,
        pending=command.pending,
        expires_at=command.expires_at,
    )


def _lock(
    uow: UnitOfWork, postings: Sequence[PostingDraft]
) -> tuple[dict[str, Account], dict[BalanceKey, Balance], datetime]:
    """Resolve the postings' accounts (unknown ones refused), lock their balances, pick the time."""
    accounts = uow.accounts.cached(p.account_code for p in postings)
    _check_known(accounts, postings)
    return _lock_balances(uow, accounts, postings)


def _check_known(accounts: Mapping[str, Account], postings: Sequence[PostingDraft]) -> None:
    for index, posting in enumerate(postings):
        if posting.account_code not in accounts:
            raise UnknownAccount(
                f"no account {posting.account_code!r}", field=f"postings[{index}].account"
            )


def _lock_balances(
    uow: UnitOfWork, accounts: Mapping[str, Account], postings: Sequence[PostingDraft]
) -> tuple[dict[str, Account], dict[BalanceKey, Balance], datetime]:
    """Lock every balance the postings touch; the recorded time of the write.

    The recorded time is never earlier than the last change of any locked balance, so running
    balances stay in recorded-time order per account even if clocks step back.
    """
    keys = {(accounts[p.account_code].id, p.instrument_code) for p in postings}
    locked_accounts, balances = uow.journal.lock(accounts, keys)
    return locked_accounts, balances, _recorded_at(uow, balances)


def _recorded_at(uow: UnitOfWork, balances: Mapping[BalanceKey, Balance]) -> datetime:
    """Now, or the last change of a locked balance if the clock stepped back since."""
    changed = [b.updated_at for b in balances.values() if b.updated_at is not None]
    return max([uow.now(), *changed])


def _drafts_of(record: EntryRecord) -> tuple[PostingDraft, ...]:
    return tuple(
        PostingDraft(p.account_code, p.instrument_code, p.side, p.units) for p in record.postings
    )


def _new_entry(
    draft: EntryDraft,
    request_hash: str,
    status: EntryStatus,
    postings: Sequence[Any],
    recorded_at: datetime,
    **links: Any,
) -> NewEntry:
    return NewEntry(
        draft=draft,
        request_hash=request_hash,
        status=status,
        effective_at=draft.effective_at or recorded_at,
        recorded_at=recorded_at,
        postings=postings,
        **links,
    )


def _get(uow: UnitOfWork, entry_id: str) -> EntryRecord:
    record = uow.journal.get_many([entry_id]).get(entry_id)
    if record is None:
        raise EntryNotFound(f"no entry {entry_id!r}", field="entry_id", entry_id=entry_id)
    return record


def _build_reversal(uow: UnitOfWork, command: ReverseEntry, hashes: dict[str, str]) -> NewEntry:
    request_hash = canonical_hash(
        {"reverses": command.original_entry_id, **_resolution_fields(command.entry_id, command)}
    )
    hashes[command.entry_id] = request_hash
    original = _get(uow, command.original_entry_id)
    _check_period_open(uow, command.effective_at)
    if original.status is not EntryStatus.POSTED:
        raise EntryNotReversible(
            f"entry {original.entry_id} is {original.status.value}; only posted entries reverse",
            field="entry_id",
        )
    draft = EntryDraft(
        entry_id=command.entry_id,
        entry_type="reversal",
        postings=reversal_postings(original),
        effective_at=command.effective_at,
        memo=command.memo,
        metadata=command.metadata,
        references=original.references,
    )
    accounts, balances, recorded_at = _lock(uow, draft.postings)
    # Checked after the lock: a concurrent reversal has committed or is still waiting.
    reversal = uow.journal.follower_of(original.seq, link="reverses")
    if reversal is not None:
        raise EntryAlreadyReversed(
            f"entry {original.entry_id} was already reversed by {reversal.entry_id}",
            field="entry_id",
        )
    booked = book(
        draft.postings, accounts, balances, pending=False, text=_text(uow, draft.postings)
    )
    uow.journal.save_balances(balances.values(), recorded_at)
    return _new_entry(
        draft,
        request_hash,
        EntryStatus.POSTED,
        booked,
        recorded_at,
        reverses_seq=original.seq,
        reverses_entry_id=original.entry_id,
    )


def _resolution_fields(entry_id: str, command: ReverseEntry | ResolvePending) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "memo": command.memo,
        "metadata": command.metadata,
        "effective_at": instant_text(command.effective_at),
    }


def _build_resolution(  # noqa: PLR0917 - the command, and what the caller read already
    uow: UnitOfWork,
    command: ResolvePending,
    status: EntryStatus,
    hashes: dict[str, str],
    pending_entry: EntryRecord | None = None,
    locked: LockedBalances | None = None,
) -> NewEntry:
    pending = pending_entry or _get(uow, command.pending_entry_id)
    assert pending.entry_id == command.pending_entry_id, (pending.entry_id, command)
    if pending.status is not EntryStatus.PENDING:
        raise NotPending(f"entry {pending.entry_id} is not pending", field="entry_id")
    requested = None
    if command.postings is not None:
        if not command.postings:
            raise TooFewPostings("a partial post names at least two postings", field="postings")
        instruments = uow.instruments.get_many(p.instrument_code for p in command.postings)
        requested = to_posting_drafts(command.postings, instruments)
    text = _text(uow, pending.postings)
    postings = partial_post_postings(pending.postings, requested, text)
    if status is not EntryStatus.POSTED:
        postings = ()
    draft = EntryDraft(
        entry_id=command.entry_id,
        entry_type=pending.entry_type,
        postings=postings,
        effective_at=command.effective_at,
        memo=command.memo,
        metadata=command.metadata,
        references=pending.references,
    )
    request_hash = canonical_hash(
        {
            "resolves": pending.entry_id,
            "status": status.value,
            "postings": None
            if requested is None
            else [[p.account_code, p.instrument_code, p.side.value, p.units] for p in requested],
            **_resolution_fields(command.entry_id, command),
        }
    )
    hashes[command.entry_id] = request_hash
    _check_period_open(uow, command.effective_at)
    lines = _drafts_of(pending)
    accounts, balances, recorded_at = (
        _lock(uow, lines) if locked is None else locked.covering(uow, lines)
    )
    _check_unresolved(uow, pending, recorded_at)
    release_pending(pending.postings, accounts, balances)
    booked = book(postings, accounts, balances, pending=False, text=text)
    uow.journal.save_balances(balances.values(), recorded_at)
    return _new_entry(
        draft,
        request_hash,
        status,
        booked,
        recorded_at,
        pending_seq=pending.seq,
        pending_entry_id=pending.entry_id,
    )


def _check_unresolved(uow: UnitOfWork, pending: EntryRecord, now: datetime) -> None:
    """After the lock: the pending entry is still open and its deadline has not passed."""
    resolution = uow.journal.follower_of(pending.seq, link="pending")
    if resolution is not None:
        error = {
            EntryStatus.POSTED: PendingAlreadyPosted,
            EntryStatus.VOIDED: PendingAlreadyVoided,
            EntryStatus.EXPIRED: PendingExpired,
        }[resolution.status]
        raise error(
            f"pending entry {pending.entry_id} was already {resolution.status.value} "
            f"by {resolution.entry_id}",
            field="entry_id",
        )
    if pending.expires_at is not None and pending.expires_at <= now:
        raise PendingExpired(
            f"pending entry {pending.entry_id} expired at {pending.expires_at.isoformat()}",
            field="entry_id",
        )


def _insert_expiry(uow: UnitOfWork, pending: EntryRecord) -> EntryRecord:
    accounts, balances, recorded_at = _lock(uow, _drafts_of(pending))
    resolution = uow.journal.follower_of(pending.seq, link="pending")
    if resolution is not None:
        raise StorageConflict("pending")
    release_pending(pending.postings, accounts, balances)
    uow.journal.save_balances(balances.values(), recorded_at)
    draft = EntryDraft(
        f"{SYSTEM_ENTRY_ID_PREFIX}expiry-{pending.seq}",
        pending.entry_type,
        (),
        references=pending.references,
        memo="expired at its deadline",
    )
    new = _new_entry(
        draft,
        canonical_hash({"expires": pending.entry_id}),
        EntryStatus.EXPIRED,
        [],
        recorded_at,
        pending_seq=pending.seq,
        pending_entry_id=pending.entry_id,
    )
    return uow.journal.insert([new])[0]
