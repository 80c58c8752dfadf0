"""Use cases of penalty-basis events (rules.md §7.3): a regulator records one, with its evidence;
the enterprise (and every reader in scope) sees its own. The tax applies them by itself when a
quarter is computed or filed (`ledger.services.tax.compute_in`): nobody has to remember to.
Recording one amends, in the same transaction, the return in force of every filed quarter it
touches (`ledger.services.tax.amend_for_event`) and reverses the verified reductions resting on
a report it touches (`ledger.services.reductions.reverse_for_event`).

An event is identified by the regulator's id: the same event again is a replay, another one
under its id a 409. Events are never changed or removed (the chain `penalty_events` seals them).
"""

from __future__ import annotations

from dataclasses import replace

from ledger.domain.access import Actor
from ledger.domain.errors import RecordExists, RecordNotFound
from ledger.domain.pages import Created
from ledger.domain.penalty_basis import PenaltyBasisEvent
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.services import reductions, tax
from ledger.services.authority import party_in_scope, use_case
from ledger.services.transactions import in_transaction, read


@use_case("penalty_events.record")
def record_event(
    uow_factory: UnitOfWorkFactory, actor: Actor, event: PenaltyBasisEvent
) -> Created[PenaltyBasisEvent]:
    """Record an event against one of the party's outlets (the party in the path)."""

    def work(uow: UnitOfWork) -> Created[PenaltyBasisEvent]:
        party_in_scope(uow, actor, event.party, field="party")
        if uow.registry.get_outlet(event.party, event.outlet) is None:
            raise RecordNotFound(
                f"outlet {event.outlet!r} of {event.party} not found", field="outlet"
            )
        # After a concurrent filing or event of the party has committed: this one amends its
        # return (reads see it from here on), and the same event again is a plain replay.
        tax.lock_filings(uow, event.party)
        stored = uow.permits.get_event(event.id)
        if stored is not None:
            if stored.definition() != event.definition():
                raise RecordExists(f"event {event.id} exists, defined otherwise", field="id")
            return Created(stored, replayed=True)
        made = replace(event.definition(), recorded_by=actor.id, recorded_at=uow.now())
        uow.permits.add_event(made)
        # The filed quarters it touches are amended at once: refiling is the enterprise's to
        # do and may not be in its interest (rules §1.1: no reduction applies after tampering).
        tax.amend_for_event(uow, actor.id, made)
        reductions.reverse_for_event(uow, made)  # and no verified reduction stands on them
        return Created(made)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("penalty_events.list")
def list_events(
    uow_factory: UnitOfWorkFactory, actor: Actor, party: str
) -> tuple[PenaltyBasisEvent, ...]:
    """The party's events, by first month (a party has a handful: no paging)."""

    def work(uow: UnitOfWork) -> tuple[PenaltyBasisEvent, ...]:
        party_in_scope(uow, actor, party)
        return tuple(uow.permits.events_of(party))

    return read(uow_factory, work)
