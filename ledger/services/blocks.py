"""Trading blocks (rules §4, §7.11): a regulator sets a block on a party under enforcement (it
may not receive rights) or on a party's rights that are leased or of unclear title (they may not
be transferred), from a business date; lifts it from another. While a block is active, every
transfer it concerns is refused: trades (at acceptance and at recording) and reserve sales.

A block records the scope of the authority that set it (`set_by_city`: its city, None for the
province); only an authority whose scope covers that one lifts it, so a city cannot undo the
province's enforcement (decision "A block is lifted by its setter's authority or a wider one").

A block is a record of its own (`trading_blocks`, chained); setting the same block again is a
safe retry (answered with the block as it is, lifted or not), another block under its id a 409;
lifting it again on the same day answers the lift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from ledger.domain.access import Actor
from ledger.domain.errors import (
    BlockLifted,
    BlockOfWiderAuthority,
    InvalidField,
    RecordExists,
    RecordNotFound,
)
from ledger.domain.finance import beijing_date
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import (
    UNDISCLOSED,
    BlockKind,
    TradingBlock,
    check_blocks,
    check_pollutant,
)
from ledger.services.authority import sees, use_case, visible_party
from ledger.services.transactions import in_transaction, read


@use_case("blocks.set")
def set_block(
    uow_factory: UnitOfWorkFactory, actor: Actor, block: TradingBlock
) -> Created[TradingBlock]:
    """Set a block on a party in the authority's scope, from `block.effective_from`; the block
    records the setter's scope (its city, or None for the province), whatever it said."""
    assert actor.scope.party is None, f"only authorities set blocks, not {actor.role}"
    block = replace(block, set_by_city=actor.scope.city)

    def work(uow: UnitOfWork) -> Created[TradingBlock]:
        existing = uow.registry.get_block(block.id)
        if existing is not None:
            # What a setter sent, not whether the block was lifted since: the same block
            # again answers the stored one, lifted or not (as a trade's proposal does). Sent
            # by an authority of another scope, it is not the same block.
            as_sent = replace(existing, lifted_on=block.lifted_on)
            if as_sent != block or not sees(uow, actor, existing.party_code):
                raise RecordExists(f"block {block.id} exists", field="id")
            return Created(existing, replayed=True)
        visible_party(uow, actor, block.party_code)
        if block.lifted_on is not None:
            raise InvalidField("a block is set, then lifted", field="lifted_on")
        if block.kind is BlockKind.ENFORCEMENT and block.pollutant:
            raise InvalidField("enforcement blocks the party, not a pollutant", field="pollutant")
        if block.pollutant:
            check_pollutant(block.pollutant)
        uow.registry.add_block(block, uow.now())
        return Created(block)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("blocks.lift")
def lift_block(
    uow_factory: UnitOfWorkFactory, actor: Actor, block_id: str, day: date
) -> TradingBlock:
    """Lift a block from `day` (it no longer applies on that day); the same lift again is
    answered as it was. Only an authority whose scope covers the setter's lifts a block."""

    def work(uow: UnitOfWork) -> TradingBlock:
        block = uow.registry.get_block(block_id)
        if block is None or not sees(uow, actor, block.party_code):
            raise RecordNotFound(f"block {block_id!r} not found", field="block_id")
        if not actor.scope.covers_authority(block.set_by_city):
            setter = "the province" if block.set_by_city is None else block.set_by_city
            raise BlockOfWiderAuthority(
                f"block {block_id} was set by {setter}'s authority: only an authority whose "
                "scope covers it may lift it",
                field="block_id",
            )
        if block.lifted_on == day:
            return block
        if block.lifted_on is not None:
            raise BlockLifted(f"block {block_id} was lifted on {block.lifted_on}", field="day")
        if day < block.effective_from:
            raise InvalidField("a block is lifted on or after the day it took effect", field="day")
        uow.registry.lift_block(block_id, day)
        return replace(block, lifted_on=day)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("blocks.list")
def list_blocks(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    cursor: str | None,
    limit: int,
) -> Page[TradingBlock]:
    """The blocks the actor sees (of parties in scope), lifted or not, one page after `cursor`."""
    after = decode_cursor("blocks", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.registry.list_blocks(party, after, limit, scope=actor.scope),
    )
    page = keyset_page("blocks", rows, limit)
    if actor.scope.party is None:
        return page
    # An enterprise learns no more of the authorities' doings than before blocks had setters.
    return replace(page, items=[replace(b, set_by_city=UNDISCLOSED) for b in page.items])


def check_transfer(
    uow: UnitOfWork,
    seller: str,
    buyer: str,
    family: str,
    business_date: date,
    *,
    found: Sequence[TradingBlock] | None = None,
) -> None:
    """Refuse a transfer a block forbids, active on its business date or today (Beijing): a
    block set today stops a transfer dated earlier that is still to be recorded, and one lifted
    since does not excuse a transfer dated while it held. `found`: every block of the two
    parties, if the caller read them."""
    blocks = uow.registry.blocks_of(sorted({seller, buyer})) if found is None else found
    if blocks:
        check_blocks(blocks, seller, buyer, family, (business_date, beijing_date(uow.now())))
