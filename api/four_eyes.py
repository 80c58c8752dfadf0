"""Which operations need a second principal, and how an approved request is carried out.

With an operation in `Settings.four_eyes`, its endpoint answers `202 Accepted` with a pending
approval request instead of acting (allocations only above `four_eyes_allocation_t` t/a).
The validated request body is the request's payload; the executor registered here for the
operation re-validates it and calls the same service the endpoint would have called, joined to
the approval's transaction (see `ledger.services.approvals`).

Operations: `allocation` (POST /v1/entitlements), `confiscation` and `cancellation`
(POST /v1/reserve-operations), `reversal` (POST /v1/entries/{entry_id}/reverse).
Penalty waivers are not an operation of this registry yet (see docs/concepts/access-control.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from api import registry_schemas as rs
from api import schemas
from api.convert import posted_out, reverse_command
from api.routers.access import approval_out
from ledger.domain.access import Principal
from ledger.domain.ports import UnitOfWorkFactory
from ledger.services import approvals, journal, rights
from ledger.settings import Settings

# The extra answer of every gated endpoint, for its OpenAPI `responses`.
PENDING: dict[int | str, dict[str, Any]] = {
    202: {"description": "Needs a second principal: the pending approval request"}
}


def gate(
    request: Request,
    caller: Principal,
    operation: str,
    payload: Mapping[str, Any],
    *,
    tonnes_per_year: Decimal | None = None,
) -> JSONResponse | None:
    """A 202 with the pending request if `operation` needs four eyes, else None (go ahead).
    An allocation needs them only above the threshold (`tonnes_per_year`, its size)."""
    settings: Settings = request.app.state.settings
    if operation not in settings.four_eyes:
        return None
    if tonnes_per_year is not None and tonnes_per_year <= settings.four_eyes_allocation_t:
        return None
    pending = approvals.request(request.app.state.store, caller, operation, payload)
    return JSONResponse(approval_out(pending).model_dump(mode="json"), status_code=202)


def _allocate(
    store: UnitOfWorkFactory, _: Principal, payload: Mapping[str, Any]
) -> Mapping[str, Any]:
    body = rs.EntitlementIn.model_validate(payload)
    return rs.entitlement_out(rights.confirm_entitlement(store, body.to_domain())).model_dump(
        mode="json"
    )


def _reserve(
    store: UnitOfWorkFactory, _: Principal, payload: Mapping[str, Any]
) -> Mapping[str, Any]:
    body = rs.ReserveOperationIn.model_validate(payload)
    records = rights.reserve_operation(store, rs.reserve_command(body))
    return {"entry_ids": [r.entry_id for r in records]}


def _reverse(
    store: UnitOfWorkFactory, _: Principal, payload: Mapping[str, Any]
) -> Mapping[str, Any]:
    body = schemas.ReverseIn.model_validate(payload["body"])
    posted = journal.reverse_entry(store, reverse_command(payload["entry_id"], body))
    return posted_out(posted).model_dump(mode="json")


approvals.register("allocation", _allocate)
approvals.register("confiscation", _reserve)
approvals.register("cancellation", _reserve)
approvals.register("reversal", _reverse)
