"""Four-eyes approval: an operation takes effect only when a second principal approves it.

An operation configured for four-eyes is stored as a request (its validated payload) instead
of being executed. A principal of the same authority (the same province or city party; for
roles without a party, the same role), other than the initiator, approves it: the executor
registered for the operation then runs *inside the approval's transaction* (via
`transactions.joined`), so the decision and its effect commit together or not at all, and a
conditional UPDATE of the pending row makes a second approval a conflict: it applies exactly
once. The database refuses a decision by the initiator (CHECK) as a last line of defence.
Requests expire (`REQUEST_LIFETIME`); an expired request can no longer be approved.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ledger.domain.access import (
    ApprovalNotFound,
    ApprovalRequest,
    OtherAuthority,
    Principal,
    RequestDecided,
    RequestExpired,
    RequestState,
    SelfApproval,
    authority_of,
)
from ledger.domain.errors import InvalidField
from ledger.domain.pages import check_page_size
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.services.transactions import in_transaction, joined, read, run_joined

REQUEST_LIFETIME = timedelta(days=3)

# An executor runs the operation for `initiator` with the stored payload, using the factory
# it is given (joined to the approval's transaction), and returns a JSON-able result.
Executor = Callable[[UnitOfWorkFactory, Principal, Mapping[str, Any]], Mapping[str, Any]]
_EXECUTORS: dict[str, Executor] = {}


def register(operation: str, executor: Executor) -> None:
    """Make `operation` approvable; registering twice replaces (modules may be reloaded)."""
    _EXECUTORS[operation] = executor


def request(
    uow_factory: UnitOfWorkFactory,
    initiator: Principal,
    operation: str,
    payload: Mapping[str, Any],
) -> ApprovalRequest:
    """Store the operation as a pending request of the initiator's authority."""
    if operation not in _EXECUTORS:
        raise InvalidField(f"{operation!r} is not an approvable operation", field="operation")

    def work(uow: UnitOfWork) -> ApprovalRequest:
        now = uow.now()
        pending = ApprovalRequest(
            id=f"req-{secrets.token_hex(8)}",
            operation=operation,
            payload=dict(payload),
            authority=authority_of(initiator),
            initiator=initiator.id,
            state=RequestState.PENDING,
            created_at=now,
            expires_at=now + REQUEST_LIFETIME,
        )
        uow.access.add_request(pending)
        return pending

    return in_transaction(uow_factory, work)


def approve(
    uow_factory: UnitOfWorkFactory, request_id: str, approver: Principal
) -> ApprovalRequest:
    """Apply the request's operation, once, in the same transaction as the decision."""

    def work(uow: UnitOfWork) -> ApprovalRequest:
        pending = _decidable(uow, request_id, approver)
        initiator = _initiator(uow, pending)
        result = _EXECUTORS[pending.operation](joined(uow), initiator, pending.payload)
        return _decide(uow, pending, RequestState.APPLIED, approver.id, result, None)

    return run_joined(uow_factory, work)


def reject(
    uow_factory: UnitOfWorkFactory, request_id: str, approver: Principal, reason: str
) -> ApprovalRequest:
    def work(uow: UnitOfWork) -> ApprovalRequest:
        pending = _decidable(uow, request_id, approver)
        return _decide(uow, pending, RequestState.REJECTED, approver.id, None, reason)

    return in_transaction(uow_factory, work)


def expire_due(uow_factory: UnitOfWorkFactory) -> int:
    """Mark pending requests past their deadline expired (the sweeper calls this)."""

    return in_transaction(uow_factory, lambda uow: uow.access.expire_requests(uow.now()))


def get(uow_factory: UnitOfWorkFactory, request_id: str, viewer: Principal) -> ApprovalRequest:
    """A request, visible to its own authority (and the provincial regulator) only."""
    return read(uow_factory, lambda uow: _visible(uow, request_id, viewer))


def list_requests(
    uow_factory: UnitOfWorkFactory,
    viewer: Principal,
    state: RequestState | None,
    after: str,
    limit: int,
) -> list[ApprovalRequest]:
    check_page_size(limit)
    authority = None if viewer.scope.unlimited else authority_of(viewer)
    return read(uow_factory, lambda uow: uow.access.list_requests(state, authority, after, limit))


def _visible(uow: UnitOfWork, request_id: str, viewer: Principal) -> ApprovalRequest:
    found = uow.access.get_request(request_id)
    if found is None or not (viewer.scope.unlimited or found.authority == authority_of(viewer)):
        raise ApprovalNotFound(f"no approval request {request_id!r}")
    return found


def _decidable(uow: UnitOfWork, request_id: str, approver: Principal) -> ApprovalRequest:
    pending = uow.access.get_request(request_id, lock=True)
    if pending is None or not (
        approver.scope.unlimited or pending.authority == authority_of(approver)
    ):
        raise ApprovalNotFound(f"no approval request {request_id!r}")
    if pending.state is not RequestState.PENDING:
        raise RequestDecided(f"request {request_id!r} is already {pending.state.value}")
    if pending.expires_at <= uow.now():
        raise RequestExpired(
            f"request {request_id!r} expired at {pending.expires_at:%Y-%m-%d %H:%M}Z"
        )
    if pending.initiator == approver.id:
        raise SelfApproval("the initiator of a request may not decide it")
    if pending.authority != authority_of(approver):
        raise OtherAuthority(f"request {request_id!r} belongs to {pending.authority}")
    return pending


def _initiator(uow: UnitOfWork, pending: ApprovalRequest) -> Principal:
    record = uow.access.get_principal(pending.initiator)
    assert record is not None, "requests are created by registered principals"
    city = None if record.party is None else uow.access.city_of(record.party)
    return Principal(record.id, record.name, record.role, record.party, city)


def _decide(  # noqa: PLR0917 - the decision's fields
    uow: UnitOfWork,
    pending: ApprovalRequest,
    state: RequestState,
    decided_by: str,
    result: Mapping[str, Any] | None,
    reason: str | None,
) -> ApprovalRequest:
    if not uow.access.decide(pending.id, state, decided_by, uow.now(), result, reason):
        raise RequestDecided(f"request {pending.id!r} was decided concurrently")
    decided = uow.access.get_request(pending.id)
    assert decided is not None
    return decided
