"""Use cases of outlet permits: a regulator sets one (four-eyes when it lowers tax); readers list
an outlet's permits; other services read the permit in force for a month.

A new permit changes the standards of the months it governs (from its month until the next
permit of the outlet): their stored CEMS monthly aggregates are recomputed in the same
transaction, so exceedances and means on the standard's basis follow the permit. Reports drafted
before keep the standards they were drafted with; a correction takes the new ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from ledger.domain.access import Actor, Pending
from ledger.domain.errors import RecordExists, RecordNotFound
from ledger.domain.pages import Created
from ledger.domain.payloads import from_payload, to_payload
from ledger.domain.permits import PERMIT_FOUR_EYES, Permit, in_force, relaxations
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.services import monitoring
from ledger.services.authority import gate, party_in_scope, use_case
from ledger.services.transactions import in_transaction, read


@use_case("permits.set")
def set_permit(
    uow_factory: UnitOfWorkFactory, actor: Actor, permit: Permit
) -> Created[Permit] | Pending:
    """Store `permit` (its outlet's permit from its month on); a change that lowers tax waits
    for a second regulator. The same permit again is a replay; another for its month a 409."""

    def work(uow: UnitOfWork) -> Created[Permit] | Pending:
        existing = _outlet_permits(uow, actor, permit.party, permit.outlet)
        wanted = permit.definition()
        for stored in existing:
            if stored.effective_from == permit.effective_from:
                if stored.definition() != wanted:
                    raise RecordExists(
                        f"{permit.outlet} of {permit.party} has a permit from "
                        f"{permit.effective_from:%Y-%m} already, defined otherwise",
                        field="effective_from",
                    )
                return Created(stored, replayed=True)
        lowers = relaxations(in_force(existing, permit.effective_from), wanted)
        key = f"{permit.party}/{permit.outlet}/{permit.effective_from:%Y-%m}"
        pending = gate(
            uow, actor, PERMIT_FOUR_EYES, to_payload(wanted), key=key, needed=bool(lowers)
        )
        if pending is not None:
            return pending
        made = replace(wanted, set_by=actor.id, set_at=uow.now())
        uow.permits.add_permit(made)
        later = [p.effective_from for p in existing if p.effective_from > made.effective_from]
        monitoring.reaggregate_outlet(uow, made.party, made.outlet, made.effective_from, later)
        return Created(made)

    return in_transaction(uow_factory, work, actor=actor)


def run_approved_permit(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> Created[Permit] | Pending:
    """The executor of an approved `permit` request (`ledger.services.approvals`)."""
    return set_permit(uow_factory, actor, from_payload(Permit, payload))


@use_case("permits.list")
def list_permits(
    uow_factory: UnitOfWorkFactory, actor: Actor, party: str, outlet: str
) -> tuple[Permit, ...]:
    """Every permit of one outlet, oldest first (an outlet has a handful: no paging)."""
    return read(uow_factory, lambda uow: tuple(_outlet_permits(uow, actor, party, outlet)))


def _outlet_permits(uow: UnitOfWork, actor: Actor, party: str, outlet: str) -> list[Permit]:
    """The outlet's permits; an unknown outlet, or a party out of scope, is a 404."""
    party_in_scope(uow, actor, party, field="party")
    if uow.registry.get_outlet(party, outlet) is None:
        raise RecordNotFound(f"outlet {outlet!r} of {party} not found", field="outlet")
    return uow.permits.permits_of(party, outlet)


# -- for the other services (inside their unit of work) -----------------------------------------


class PermitsOf:
    """One enterprise's permits, read once, answering the permit in force for an outlet's month."""

    def __init__(self, uow: UnitOfWork, party: str) -> None:
        self._by_outlet: dict[str, list[Permit]] = {}
        for permit in uow.permits.permits_of(party):
            self._by_outlet.setdefault(permit.outlet, []).append(permit)

    def in_force(self, outlet: str, month: date) -> Permit | None:
        return in_force(self._by_outlet.get(outlet, []), month)
