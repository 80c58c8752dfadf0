"""Authority in the core: who may perform a use case, what they see, and the four-eyes gate.

Every use case is declared with `@use_case("trades.accept")`: before it runs, the actor's role
is checked against `ledger.domain.operations.OPERATIONS` (a refusal is audited as "denied"), and
the actor it receives carries the operation's name for its audit line. Whoever calls (the API,
the command line, the demo loader, the console) passes this check; the API's own early check
(a 403 before the body is read) uses the same table.

What an actor sees is its scope: listings filter in SQL (`ledger.persistence.scoping`), single
records go through `require_visible`, which answers the record's own not-found error for what
is out of scope, so a 404 never tells whether another enterprise's record exists.

Four-eyes: an operation that needs a second principal calls `gate` inside its transaction,
before it changes anything. Without an approval the gate stores the request and the use case
answers `Pending`; the approvals service later runs the same use case with an `Approval`, which
the gate checks against the stored, locked, still pending request (same operation, initiator
and payload), so an approval cannot be forged or reused for another payload.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from ledger.domain.access import (
    Actor,
    ActorMismatch,
    ApprovalRequest,
    Forbidden,
    Pending,
    RequestState,
    authority_of,
)
from ledger.domain.errors import (
    InvalidField,
    LedgerError,
    PartyNotFound,
    RecordExists,
    UnknownParty,
)
from ledger.domain.operations import OPERATIONS, may
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import Party
from ledger.services.transactions import audit

P = ParamSpec("P")
T = TypeVar("T")
UseCase = Callable[Concatenate[UnitOfWorkFactory, Actor, P], T]

REQUEST_LIFETIME = timedelta(days=3)


def use_case(operation: str) -> Callable[[UseCase[P, T]], UseCase[P, T]]:
    """Declare a use case performing `operation`: the actor's role is checked on every call."""
    if operation not in OPERATIONS:
        raise AssertionError(f"{operation!r} is not in ledger.domain.operations.OPERATIONS")

    def declare(function: UseCase[P, T]) -> UseCase[P, T]:
        @functools.wraps(function)
        def checked(
            uow_factory: UnitOfWorkFactory, actor: Actor, /, *args: P.args, **kwargs: P.kwargs
        ) -> T:
            permit(uow_factory, actor, operation)
            return function(uow_factory, actor.doing(operation), *args, **kwargs)

        checked.operation = operation  # type: ignore[attr-defined]
        return checked

    return declare


def permit(uow_factory: UnitOfWorkFactory, actor: Actor, operation: str) -> None:
    """Refuse (and audit the refusal) unless the actor's role may perform `operation`."""
    if may(actor.role, operation):
        return
    refused = Forbidden(f"a {actor.role.value} may not perform {operation}")
    audit(uow_factory, actor.doing(operation), "denied", refused.code)
    raise refused


# -- visibility ---------------------------------------------------------------------------------


def sees(uow: UnitOfWork, actor: Actor, *parties: str | None) -> bool:
    """Whether a record of these parties (any one suffices: a seller or a buyer) is visible."""
    scope = actor.scope
    if scope.unlimited:
        return True
    if scope.party is not None:  # a party's own records: no city to look up
        return scope.party in parties
    return any(party is not None and uow.access.city_of(party) == scope.city for party in parties)


def require_visible(
    uow: UnitOfWork,
    actor: Actor,
    error: Callable[[str], LedgerError],
    what: str,
    *parties: str | None,
) -> None:
    """Raise `error` (the record's own not-found error) unless the record is visible."""
    if not sees(uow, actor, *parties):
        raise error(f"{what} not found")


def visible_party(uow: UnitOfWork, actor: Actor, code: str, *, field: str = "party") -> Party:
    """A party named in a request: unknown and out of scope are refused alike."""
    party = uow.registry.get_party(code)
    if party is None or not sees(uow, actor, code):
        raise UnknownParty(f"no party {code!r}", field=field)
    return party


def party_in_scope(uow: UnitOfWork, actor: Actor, code: str, *, field: str = "code") -> Party:
    """A party named in a path: unknown and out of scope are the same 404."""
    party = uow.registry.get_party(code)
    if party is None or not sees(uow, actor, code):
        raise PartyNotFound(f"party {code!r} not found", field=field)
    return party


def acting_as(actor: Actor, named: str | None, *, field: str = "actor") -> str:
    """The party a write acts as: the actor's own; naming another is refused."""
    if actor.party is None:
        raise ActorMismatch(f"a {actor.role.value} principal acts as no party", field=field)
    if named is not None and named != actor.party:
        raise ActorMismatch(f"you act as {actor.party}, not {named}", field=field)
    return actor.party


# -- four-eyes ----------------------------------------------------------------------------------


def gate(
    uow: UnitOfWork,
    actor: Actor,
    operation: str,
    payload: Mapping[str, Any],
    *,
    key: str | None = None,
    needed: bool = True,
) -> Pending | None:
    """None if the operation may go ahead now; else the stored request (`Pending`).

    It goes ahead when four-eyes is off for it (`needed` false, or not in the policy), or when
    the actor carries the approval of the pending request for exactly this operation, initiator
    and payload (locked by the approval's transaction). `key` is the client's id of what it
    creates: a retry answers the request already stored under it (another payload: 409)."""
    if not (needed and uow.four_eyes.needs(operation)):
        return None
    if actor.approval is not None:
        _check_approval(uow, actor, operation, payload)
        return None
    request_id = _request_id(operation, key)
    stored = uow.access.get_request(request_id)
    if stored is not None:
        if stored.initiator != actor.id or dict(stored.payload) != dict(payload):
            raise RecordExists(f"{key!r} was already asked for differently", field="id")
        return Pending(stored, replayed=True)
    now = uow.now()
    initiator = uow.access.get_principal(actor.id)
    assert initiator is not None, "actors are registered principals"
    request = ApprovalRequest(
        id=request_id,
        operation=operation,
        payload=dict(payload),
        authority=authority_of(actor.principal),
        initiator=actor.id,
        initiator_person=initiator.person,
        state=RequestState.PENDING,
        created_at=now,
        expires_at=now + REQUEST_LIFETIME,
    )
    uow.access.add_request(request)
    return Pending(request)


def _request_id(operation: str, key: str | None) -> str:
    """A client's retry finds its request under the same id; without a key, a fresh one."""
    if key is None:
        return f"req-{secrets.token_hex(8)}"
    return "req-" + hashlib.sha256(f"{operation}:{key}".encode()).hexdigest()[:32]


def _check_approval(
    uow: UnitOfWork, actor: Actor, operation: str, payload: Mapping[str, Any]
) -> None:
    assert actor.approval is not None
    stored = uow.access.get_request(actor.approval.request_id, lock=True)
    if (
        stored is None
        or stored.state is not RequestState.PENDING
        or stored.operation != operation
        or stored.initiator != actor.id
        or dict(stored.payload) != dict(payload)
    ):
        raise InvalidField(
            "the approval does not match a pending request for this operation", field="approval"
        )
