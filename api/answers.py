"""How the API answers what a use case returned: a four-eyes request is a 202 with the request,
an idempotent replay carries `Idempotent-Replayed: true` with the status of the first answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Response
from fastapi.responses import JSONResponse

from api.schemas import Strict
from ledger.domain.access import ApprovalRequest, Pending
from ledger.domain.pages import Created

T = TypeVar("T")
R = TypeVar("R")
REPLAYED = "Idempotent-Replayed"


class ApprovalOut(Strict):
    id: str
    operation: str
    payload: dict[str, Any]
    authority: str
    initiator: str
    state: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    result: Any | None
    reason: str | None


# The extra answer of every four-eyes endpoint, for its OpenAPI `responses`.
PENDING: dict[int | str, dict[str, Any]] = {
    202: {"model": ApprovalOut, "description": "Needs a second person: the approval request"}
}


def approval_out(request: ApprovalRequest) -> ApprovalOut:
    return ApprovalOut(
        id=request.id,
        operation=request.operation,
        payload=dict(request.payload),
        authority=request.authority,
        initiator=request.initiator,
        state=request.state.value,
        created_at=request.created_at,
        expires_at=request.expires_at,
        decided_by=request.decided_by,
        decided_at=request.decided_at,
        result=request.result,
        reason=request.reason,
    )


def pending_answer(pending: Pending) -> JSONResponse:
    """202 Accepted with the approval request (a retry's answer says it is a replay)."""
    answer = JSONResponse(approval_out(pending.request).model_dump(mode="json"), status_code=202)
    mark_replayed(answer, pending.replayed)
    return answer


def or_pending(result: T | Pending, present: Callable[[T], Any]) -> Any:
    """`present(result)`, or the 202 of a four-eyes request."""
    if isinstance(result, Pending):
        return pending_answer(result)
    return present(result)


def created(response: Response, made: Created[T], present: Callable[[T], R]) -> R:
    """The record a create answers, `present`ed, marked when it is a replay."""
    mark_replayed(response, made.replayed)
    return present(made.record)


def mark_replayed(response: Response, replayed: bool) -> None:
    """An identical retry answers like the first time, saying it is a replay."""
    if replayed:
        response.headers[REPLAYED] = "true"
