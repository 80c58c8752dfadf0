"""Four-eyes approval: an operation takes effect only when a second person approves it.

A use case that needs four eyes stores its command as a request through `authority.gate` and
answers `Pending`. A principal of the same authority (the same province or city party; for roles
without a party, the same role), who is not the same *person* as the initiator, approves it: the
same use case then runs again for the initiator, carrying the approval, *inside the approval's
transaction* (via `transactions.joined`), so the decision and its effect commit together or not
at all; a conditional UPDATE of the pending row makes a second approval a conflict: it applies
exactly once. The database refuses a decision by the initiator (CHECK) as a last line of
defence. Requests expire (`authority.REQUEST_LIFETIME`); a deactivated initiator's requests are
withdrawn.

`EXECUTORS` is the one table of what each operation runs when approved: the command type its
payload decodes to, and the use case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ledger.domain.access import (
    Actor,
    Approval,
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
from ledger.domain.pages import Page, check_page_size, page_of
from ledger.domain.payloads import to_payload
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.services.authority import use_case
from ledger.services.transactions import in_transaction, joined, read, run_joined

# Runs an approved operation for its initiator (an actor carrying the approval) with the stored
# payload, in the factory it is given (joined to the approval's transaction); JSON-able result.
Executor = Callable[[UnitOfWorkFactory, Actor, Mapping[str, Any]], Any]
# Results an approver is shown once and that are never stored (an enrolment's code part).
SHOWN_ONCE = frozenset({"code_part"})


def _executors() -> dict[str, Executor]:
    # Imported here: the operations' modules use `authority.gate`, which stores the requests
    # this module decides, so importing them at the top would be circular.
    from ledger.services import (  # noqa: PLC0415
        access,
        adjustments,
        compliance,
        income_tax,
        penalties,
        periods,
        permits,
        rights,
        tax_tables,
    )

    return {
        "allocation": rights.run_approved_allocation,
        "buy_back": rights.run_approved_reserve_operation,
        "confiscation": rights.run_approved_reserve_operation,
        "cancellation": rights.run_approved_reserve_operation,
        "reversal": adjustments.run_approved_reversal,
        "adjustment": adjustments.run_approved_adjustment,
        "period_reopen": periods.run_approved_reopen,
        "enrolment": access.run_approved_enrolment,
        "penalty": penalties.run_approved_penalty,
        "obligation_close": compliance.run_approved_close,
        "tax_table": tax_tables.run_approved_entry,
        "permit": permits.run_approved_permit,
        "tax_incentive": income_tax.run_approved_tax_incentive,
    }


@use_case("approvals.approve")
def approve(uow_factory: UnitOfWorkFactory, actor: Actor, request_id: str) -> ApprovalRequest:
    """Apply the request's operation, once, in the same transaction as the decision."""

    def work(uow: UnitOfWork) -> ApprovalRequest:
        pending = _decidable(uow, request_id, actor)
        initiator = _initiator(uow, pending, actor)
        result = _executors()[pending.operation](joined(uow), initiator, pending.payload)
        shown = to_payload(result)
        if not isinstance(shown, dict):  # a batch's entries, say
            shown = {"items": shown}
        stored = {k: v for k, v in shown.items() if k not in SHOWN_ONCE}
        decided = _decide(uow, pending, RequestState.APPLIED, actor, stored, None)
        return replace(decided, result=shown)

    return run_joined(uow_factory, work, actor=actor)


@use_case("approvals.reject")
def reject(
    uow_factory: UnitOfWorkFactory, actor: Actor, request_id: str, reason: str
) -> ApprovalRequest:
    def work(uow: UnitOfWork) -> ApprovalRequest:
        pending = _decidable(uow, request_id, actor)
        return _decide(uow, pending, RequestState.REJECTED, actor, None, reason)

    return in_transaction(uow_factory, work, actor=actor)


def expire_due(uow_factory: UnitOfWorkFactory) -> int:
    """Mark pending requests past their deadline expired (the sweeper calls this)."""
    return in_transaction(uow_factory, lambda uow: uow.access.expire_requests(uow.now()))


@use_case("approvals.read")
def get(uow_factory: UnitOfWorkFactory, actor: Actor, request_id: str) -> ApprovalRequest:
    """A request, visible to its own authority (and the provincial regulator) only."""
    return read(uow_factory, lambda uow: _visible(uow, request_id, actor))


@use_case("approvals.list")
def list_requests(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    state: RequestState | None,
    after: str,
    limit: int,
) -> Page[ApprovalRequest]:
    check_page_size(limit)
    authority = None if _sees_all(actor) else authority_of(actor.principal)
    found = read(uow_factory, lambda uow: uow.access.list_requests(state, authority, after, limit))
    return page_of(found, limit, lambda request: request.id)


def _sees_all(actor: Actor) -> bool:
    """The provincial regulator oversees every authority's requests."""
    return actor.scope.unlimited and actor.principal.party is not None


def _visible(uow: UnitOfWork, request_id: str, actor: Actor) -> ApprovalRequest:
    found = uow.access.get_request(request_id)
    if found is None or not (_sees_all(actor) or found.authority == authority_of(actor.principal)):
        raise ApprovalNotFound(f"approval request {request_id!r} not found")
    return found


def _decidable(uow: UnitOfWork, request_id: str, actor: Actor) -> ApprovalRequest:
    pending = uow.access.get_request(request_id, lock=True)
    if pending is None or not (
        _sees_all(actor) or pending.authority == authority_of(actor.principal)
    ):
        raise ApprovalNotFound(f"approval request {request_id!r} not found")
    if pending.state is not RequestState.PENDING:
        raise RequestDecided(f"request {request_id!r} is already {pending.state.value}")
    if pending.expires_at <= uow.now():
        raise RequestExpired(
            f"request {request_id!r} expired at {pending.expires_at:%Y-%m-%d %H:%M}Z"
        )
    initiator = uow.access.get_principal(pending.initiator)
    approver = uow.access.get_principal(actor.id)
    assert initiator is not None and approver is not None, "requests come from principals"
    if pending.initiator == actor.id or initiator.person == approver.person:
        raise SelfApproval("the initiator of a request (the same person) may not decide it")
    if pending.authority != authority_of(actor.principal):
        raise OtherAuthority(f"request {request_id!r} belongs to {pending.authority}")
    return pending


def _initiator(uow: UnitOfWork, pending: ApprovalRequest, approver: Actor) -> Actor:
    record = uow.access.get_principal(pending.initiator)
    assert record is not None, "requests are created by registered principals"
    city = None if record.party is None else uow.access.city_of(record.party)
    principal = Principal(record.id, record.name, record.role, record.party, city or None)
    return Actor(
        principal,
        pending.operation,
        target=f"approval {pending.id}",
        request_id=approver.request_id,
        approval=Approval(pending.id, approver.id),
    )


def _decide(  # noqa: PLR0917 - the decision's fields
    uow: UnitOfWork,
    pending: ApprovalRequest,
    state: RequestState,
    actor: Actor,
    result: Mapping[str, Any] | None,
    reason: str | None,
) -> ApprovalRequest:
    decider = uow.access.get_principal(actor.id)
    assert decider is not None, "actors are registered principals"
    decided_by = (actor.id, decider.person)
    if not uow.access.decide(pending.id, state, decided_by, uow.now(), result, reason):
        raise RequestDecided(f"request {pending.id!r} was decided concurrently")
    decided = uow.access.get_request(pending.id)
    assert decided is not None
    return decided
