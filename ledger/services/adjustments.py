"""The raw journal's use cases: adjustments by a regulator, never a domain operation's entries.

`/v1/entries`, `/v1/batches`, `/v1/bulk` and `/v1/pending-entries` come here. Only the
adjustment types of `ledger.domain.adjustments` are accepted; an entry that creates or destroys
rights or cash goes through four-eyes ("adjustment"); a reversal is four-eyes too ("reversal"),
and only entries the raw journal wrote may be reversed, posted or voided through it (a trade's
hold is posted or voided by the trade workflow only). The journal's mechanics (idempotency,
locking, booking) are `ledger.services.journal`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ledger.domain.access import Actor, Pending
from ledger.domain.adjustments import (
    NeedsFourEyes,
    changes_supply,
    check_adjustment_type,
    check_generic,
)
from ledger.domain.errors import EntryNotFound
from ledger.domain.payloads import from_payload, to_payload
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.services import journal
from ledger.services.authority import gate, use_case
from ledger.services.journal import BulkItemResult, Posted, PostEntry, ResolvePending, ReverseEntry

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
    """Post a hold the raw journal placed (never a trade's or another workflow's)."""
    return journal.post_pending_entry(
        uow_factory, command, actor=actor, guard=_resolvable(command.pending_entry_id)
    )


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
        field = "entry_type" if len(commands) == 1 else f"entries[{index}].entry_type"
        check_adjustment_type(command.entry_type, field)

    def guard(uow: UnitOfWork) -> Pending | None:
        accounts = uow.accounts.cached(p.account_code for c in commands for p in c.postings)
        if not (changes_supply(accounts.values()) and uow.four_eyes.needs(ADJUSTMENT)):
            return None  # the common case costs no query
        if uow.journal.get_many(c.entry_id for c in commands):
            return None  # a retry of entries written already: the write replays them
        if refuse_pending:
            raise NeedsFourEyes("this entry creates or destroys rights or cash", field="postings")
        payload = {"entries": [to_payload(command) for command in commands]}
        return gate(uow, actor, ADJUSTMENT, payload, key=commands[0].entry_id)

    return journal.write_entries(uow_factory, commands, actor=actor, guard=guard)


def _resolvable(pending_entry_id: str) -> journal.Guard:
    def guard(uow: UnitOfWork) -> None:
        _check_generic(uow, pending_entry_id)

    return guard


def _check_generic(uow: UnitOfWork, entry_id: str) -> None:
    record = uow.journal.get_many([entry_id]).get(entry_id)
    if record is None:
        raise EntryNotFound(f"entry {entry_id!r} not found", field="entry_id")
    check_generic(entry_id, record.entry_type)


def _one(written: list[Posted] | Pending) -> Posted | Pending:
    return written if isinstance(written, Pending) else written[0]
