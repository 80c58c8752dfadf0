"""The raw journal's use cases: adjustments by a regulator, never a domain operation's entries.

`/v1/entries`, `/v1/batches`, `/v1/bulk` and `/v1/pending-entries` come here. Only the
adjustment types of `ledger.domain.adjustments` are accepted, and never on an account registry
records account for (pledged, surrendered, penalties owed). An entry that creates or destroys
rights or cash, or moves anything into or out of an enterprise's (or the exchange's) account,
goes through four-eyes ("adjustment"); the latter is a transfer between parties, refused as a
trade is while a block or the receiver's city or basin forbids it, checked when it is asked for
and again when its approval runs it. A reversal is four-eyes too ("reversal"),
and only entries the raw journal wrote may be reversed, posted or voided through it (a trade's
hold is posted or voided by the trade workflow only). The journal's mechanics (idempotency,
locking, booking) are `ledger.services.journal`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ledger.domain.access import Actor, Pending
from ledger.domain.accounts import Account
from ledger.domain.adjustments import (
    NeedsFourEyes,
    Transfer,
    changes_supply,
    check_adjustment_type,
    check_generic,
    check_not_record_owned,
    holder_accounts,
    transfers,
)
from ledger.domain.entries import EntryRecord, PostingRecord, PostingRequest
from ledger.domain.errors import EntryNotFound, LedgerError
from ledger.domain.finance import beijing_date
from ledger.domain.payloads import from_payload, to_payload
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import Party, PartyKind
from ledger.services import blocks, journal
from ledger.services.authority import gate, use_case
from ledger.services.journal import BulkItemResult, Posted, PostEntry, ResolvePending, ReverseEntry
from ledger.services.parties import check_may_receive, check_same_basin, policy_of

ADJUSTMENT = "adjustment"
REVERSAL = "reversal"


@use_case("entries.post")
def post_entry(
    uow_factory: UnitOfWorkFactory, actor: Actor, command: PostEntry
) -> Posted | Pending:
    """Post one adjustment now (four-eyes when it creates or destroys rights or cash)."""
    return _one(_write(uow_factory, actor, [command]))


@use_case("pending_entries.place")
def place_pending_entry(
    uow_factory: UnitOfWorkFactory, actor: Actor, command: PostEntry
) -> Posted | Pending:
    """Place a hold of an adjustment; four-eyes at placement when posting it would create or
    destroy rights or cash."""
    return _one(_write(uow_factory, actor, [command]))


@use_case("batches.post")
def post_batch(
    uow_factory: UnitOfWorkFactory, actor: Actor, commands: Sequence[PostEntry]
) -> list[Posted] | Pending:
    """Several adjustments in one transaction, all or none (four-eyes for the whole batch when
    any of them needs it)."""
    return _write(uow_factory, actor, commands)


@use_case("bulk.post")
def post_bulk(
    uow_factory: UnitOfWorkFactory, actor: Actor, commands: Sequence[PostEntry]
) -> list[BulkItemResult]:
    """Each adjustment on its own; an item that needs four eyes is refused with
    `four_eyes_required` (post it alone or in a batch)."""

    def post(command: PostEntry) -> Posted:
        written = _write(uow_factory, actor, [command], refuse_pending=True)
        assert not isinstance(written, Pending)
        return written[0]

    return journal.post_bulk(uow_factory, commands, post)


@use_case("entries.reverse")
def reverse_entry(
    uow_factory: UnitOfWorkFactory, actor: Actor, command: ReverseEntry
) -> Posted | Pending:
    """Reverse an adjustment once (four-eyes: "reversal")."""
    payload = to_payload(command)

    def guard(uow: UnitOfWork) -> Pending | None:
        if uow.journal.get_many([command.entry_id]):
            return None  # a retry of a reversal written already: the write replays it
        _check_generic(uow, command.original_entry_id)
        return gate(uow, actor, REVERSAL, payload, key=command.entry_id)

    return journal.write_reversal(uow_factory, command, actor=actor, guard=guard)


@use_case("pending_entries.post")
def post_pending_entry(
    uow_factory: UnitOfWorkFactory, actor: Actor, command: ResolvePending
) -> Posted:
    """Post a hold the raw journal placed (never a trade's or another workflow's); what it
    moves into or out of a holder's account passes the trade rules again, as a trade's recording
    does (its four eyes were at placement)."""
    return journal.post_pending_entry(uow_factory, command, actor=actor, guard=_postable(command))


@use_case("pending_entries.void")
def void_pending_entry(
    uow_factory: UnitOfWorkFactory, actor: Actor, command: ResolvePending
) -> Posted:
    """Void a hold the raw journal placed (never a trade's or another workflow's)."""
    return journal.void_pending_entry(
        uow_factory, command, actor=actor, guard=_resolvable(command.pending_entry_id)
    )


@use_case("pending_entries.expire")
def expire_pending_entries(uow_factory: UnitOfWorkFactory, actor: Actor) -> list[str]:
    """Expire every hold past its deadline now (the server's sweeper does it too)."""
    del actor  # the expiry is the ledger's own; the caller only asks for it to happen now
    return journal.expire_pending_entries(uow_factory)


# -- four-eyes ---------------------------------------------------------------------------------


def run_approved_adjustment(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> list[Posted] | Pending:
    """The approved adjustment, for its initiator, inside the approval's transaction."""
    commands = [from_payload(PostEntry, entry) for entry in payload["entries"]]
    return _write(uow_factory, actor, commands)


def run_approved_reversal(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> Posted | Pending:
    return reverse_entry(uow_factory, actor, from_payload(ReverseEntry, payload))


# -- inside the write's transaction ------------------------------------------------------------


def _write(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    commands: Sequence[PostEntry],
    *,
    refuse_pending: bool = False,
) -> list[Posted] | Pending:
    for index, command in enumerate(commands):
        prefix = "" if len(commands) == 1 else f"entries[{index}]."
        check_adjustment_type(command.entry_type, f"{prefix}entry_type")
        check_not_record_owned(command.postings, prefix)

    def guard(uow: UnitOfWork) -> Pending | None:
        accounts = uow.accounts.cached(p.account_code for c in commands for p in c.postings)
        parties, holders = _holders(uow, accounts)
        if not (holders or changes_supply(accounts.values())):
            return None  # between accounts of no enterprise (the bench's holders): one query
        needed = uow.four_eyes.needs(ADJUSTMENT)
        moves = _moves([c.postings for c in commands], accounts, holders)
        if not (needed or moves):
            return None  # cash between holders, four-eyes off: nothing to check
        if uow.journal.get_many(c.entry_id for c in commands):
            return None  # a retry of entries written already: the write replays them
        now = uow.now()
        _check_moves(uow, [beijing_date(c.effective_at or now) for c in commands], moves, parties)
        if not needed:
            return None
        if refuse_pending:
            raise NeedsFourEyes(
                "this entry creates or destroys rights or cash, or moves an enterprise's",
                field="postings",
            )
        payload = {"entries": [to_payload(command) for command in commands]}
        return gate(uow, actor, ADJUSTMENT, payload, key=commands[0].entry_id)

    return journal.write_entries(uow_factory, commands, actor=actor, guard=guard)


def _holders(
    uow: UnitOfWork, accounts: Mapping[str, Account]
) -> tuple[Mapping[str, Party], set[str]]:
    """The registered parties owning `accounts`, and which of the accounts are holders'."""
    parties = uow.registry.get_parties({account.party for account in accounts.values()})
    return parties, holder_accounts(accounts.values(), parties)


def _moves(
    entries: Sequence[Sequence[PostingRequest | PostingRecord]],
    accounts: Mapping[str, Account],
    holders: set[str],
) -> list[tuple[int, Transfer]]:
    """Each entry's movements of rights into or out of a holder's account (`entries`: each
    entry's postings), by entry index."""
    if not holders:
        return []
    owners = {code: account.party for code, account in accounts.items()}
    return [(i, t) for i, p in enumerate(entries) for t in transfers(p, owners, holders)]


def _check_moves(
    uow: UnitOfWork,
    days: Sequence[date],
    moves: Sequence[tuple[int, Transfer]],
    parties: Mapping[str, Party],
    *,
    field: str | None = None,
) -> None:
    """A trade's transfer rules on every movement of rights into or out of a holder's account
    (rules §4, §7.11), on its entry's business date (`days`, by entry index) and today: no block
    forbids it, the receiver's city may receive air rights that year, water rights stay in one
    basin. A refusal names the posting of the party it concerns (in a batch, of its entry), or
    `field` if given."""
    if not moves:
        return  # cash only: the trade rules speak of rights
    found = uow.registry.blocks_of(sorted({p for _, t in moves for p in (t.giver, t.receiver)}))
    policy = policy_of(uow)
    for index, move in moves:
        day = days[index]
        giver, receiver = _party(parties, move.giver), _party(parties, move.receiver)
        prefix = "" if len(days) == 1 else f"entries[{index}]."
        with _naming(move, prefix, field):
            blocks.check_transfer(uow, move.giver, move.receiver, move.family, day, found=found)
            if receiver.kind is PartyKind.ENTERPRISE:
                check_may_receive(uow, move.family, giver, receiver, day.year, policy)
                check_same_basin(uow, move.family, giver, receiver, policy)


def _party(parties: Mapping[str, Party], code: str) -> Party:
    """A registered party, or what the rules know of an unregistered owner: its code only (no
    city, so a receiver's city is checked against it as against any other)."""
    return parties.get(code) or Party(code, PartyKind.AUTHORITY, code)


class _naming:  # noqa: N801 - used as a function: `with naming(move, prefix, field):`
    """Turn a trade rule's `buyer` or `seller` field into the posting of that party's account,
    the field an adjustment has (or into `field`, when the request names no postings)."""

    __slots__ = ("_field", "_move", "_prefix")

    def __init__(self, move: Transfer, prefix: str, field: str | None) -> None:
        self._move, self._prefix, self._field = move, prefix, field

    def __enter__(self) -> None:
        pass

    def __exit__(self, exc_type: object, error: BaseException | None, tb: object) -> None:
        if not isinstance(error, LedgerError) or error.field not in ("buyer", "seller"):
            return
        move = self._move
        index = move.receiver_index if error.field == "buyer" else move.giver_index
        error.field = self._field or f"{self._prefix}postings[{index}].account"


def _resolvable(pending_entry_id: str) -> journal.Guard:
    def guard(uow: UnitOfWork) -> None:
        _check_generic(uow, pending_entry_id)

    return guard


def _postable(command: ResolvePending) -> journal.Guard:
    def guard(uow: UnitOfWork) -> None:
        hold = _check_generic(uow, command.pending_entry_id)
        accounts = uow.accounts.cached(p.account_code for p in hold.postings)
        parties, holders = _holders(uow, accounts)
        moves = _moves([hold.postings], accounts, holders)
        if moves and not uow.journal.get_many([command.entry_id]):  # not a retry's replay
            day = beijing_date(command.effective_at or hold.effective_at)
            _check_moves(uow, [day], moves, parties, field="pending_entry_id")

    return guard


def _check_generic(uow: UnitOfWork, entry_id: str) -> EntryRecord:
    record = uow.journal.get_many([entry_id]).get(entry_id)
    if record is None:
        raise EntryNotFound(f"entry {entry_id!r} not found", field="entry_id")
    check_generic(entry_id, record.entry_type)
    return record


def _one(written: list[Posted] | Pending) -> Posted | Pending:
    return written if isinstance(written, Pending) else written[0]
