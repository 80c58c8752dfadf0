"""Access control over HTTP: principals and tokens (administrators), who-am-I, the audit log,
and four-eyes requests (list, approve, reject)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field

from api.auth import Caller
from api.dependencies import Store
from api.schemas import NO_NUL, Strict
from ledger.domain.access import (
    ApprovalRequest,
    AuditRecord,
    PrincipalRecord,
    RequestState,
    Role,
    StoredToken,
)
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.services import access, approvals

router = APIRouter(prefix="/v1")

PrincipalId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$")]
PrincipalIdPath = Annotated[str, Path(max_length=40, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
KeyPath = Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class PrincipalIn(Strict):
    id: PrincipalId
    name: Annotated[str, Field(min_length=1, max_length=200), NO_NUL]
    role: Role
    party: Annotated[str, Field(max_length=32), NO_NUL] | None = None
    kind: Annotated[str, Field(pattern="^(user|service)$")] = "user"


class TokenIn(Strict):
    description: Annotated[str, Field(max_length=200), NO_NUL] = ""
    expires_in_days: Annotated[int, Field(ge=1, le=366)] = 90


class TokenOut(Strict):
    id: str
    description: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class IssuedTokenOut(Strict):
    id: str
    principal: str
    token: str = Field(description="shown once: only its hash is stored")
    expires_at: datetime | None


class PrincipalOut(Strict):
    id: str
    name: str
    kind: str
    role: str
    party: str | None
    active: bool
    created_at: datetime
    created_by: str | None
    tokens: list[TokenOut] = []


class MeOut(Strict):
    id: str
    name: str
    role: str
    party: str | None
    city: str | None
    token_id: str | None


class AuditOut(Strict):
    seq: int
    at: datetime
    principal: str | None
    token_id: str | None
    action: str
    target: str
    outcome: str
    status: int
    code: str | None


class AuditPage(Strict):
    records: list[AuditOut]
    next_cursor: int | None


class DecisionIn(Strict):
    reason: Annotated[str, Field(max_length=400), NO_NUL] = ""


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
    result: dict[str, Any] | None
    reason: str | None


def principal_out(record: PrincipalRecord, tokens: list[StoredToken] | None = None) -> PrincipalOut:
    return PrincipalOut(
        id=record.id,
        name=record.name,
        kind=record.kind,
        role=record.role.value,
        party=record.party,
        active=record.active,
        created_at=record.created_at,
        created_by=record.created_by,
        tokens=[
            TokenOut(
                id=t.id,
                description=t.description,
                created_at=t.created_at,
                expires_at=t.expires_at,
                revoked_at=t.revoked_at,
            )
            for t in tokens or []
        ],
    )


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
        result=None if request.result is None else dict(request.result),
        reason=request.reason,
    )


def _audit_out(record: AuditRecord) -> AuditOut:
    assert record.seq is not None
    return AuditOut(
        seq=record.seq,
        at=record.at,
        principal=record.principal_id,
        token_id=record.token_id,
        action=record.action,
        target=record.target,
        outcome=record.outcome,
        status=record.status,
        code=record.code,
    )


# -- who am I ---------------------------------------------------------------------------------


@router.get("/me", response_model=MeOut, tags=["access"])
def me(caller: Caller) -> MeOut:
    """The principal behind the presented token."""
    return MeOut(
        id=caller.id,
        name=caller.name,
        role=caller.role.value,
        party=caller.party,
        city=caller.city,
        token_id=caller.token_id,
    )


# -- principals and tokens (administrators) ---------------------------------------------------


@router.post("/principals", response_model=PrincipalOut, status_code=201, tags=["access"])
def create_principal(body: PrincipalIn, store: Store, caller: Caller) -> PrincipalOut:
    """Register a user or service account; scoped roles name the party they act as."""
    new = access.NewPrincipal(body.id, body.name, body.role, body.party, body.kind)
    return principal_out(access.create_principal(store, new, caller.id))


@router.get("/principals", response_model=list[PrincipalOut], tags=["access"])
def list_principals(
    store: Store,
    after: Annotated[str, Query(max_length=40)] = "",
    limit: int = PAGE_SIZE_DEFAULT,
) -> list[PrincipalOut]:
    """Principals in id order after `after`."""
    return [principal_out(p) for p in access.list_principals(store, after, limit)]


@router.get("/principals/{principal_id}", response_model=PrincipalOut, tags=["access"])
def get_principal(principal_id: PrincipalIdPath, store: Store) -> PrincipalOut:
    """A principal and its tokens (never their secrets)."""
    return principal_out(*access.get_principal(store, principal_id))


@router.post(
    "/principals/{principal_id}/tokens",
    response_model=IssuedTokenOut,
    status_code=201,
    tags=["access"],
)
def issue_token(principal_id: PrincipalIdPath, body: TokenIn, store: Store) -> IssuedTokenOut:
    """A new API token: the response is the only place its secret ever appears."""
    issued = access.issue_token(
        store, principal_id, body.description, timedelta(days=body.expires_in_days)
    )
    return IssuedTokenOut(
        id=issued.id, principal=principal_id, token=issued.secret, expires_at=issued.expires_at
    )


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut, tags=["access"])
def revoke_token(token_id: KeyPath, store: Store, request: Request) -> TokenOut:
    """Revoke a token at once (this process; others within a few seconds)."""
    token = access.revoke_token(store, token_id)
    request.app.state.tokens.clear()
    return TokenOut(
        id=token.id,
        description=token.description,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
    )


@router.post("/principals/{principal_id}/deactivate", response_model=PrincipalOut, tags=["access"])
def deactivate(principal_id: PrincipalIdPath, store: Store, request: Request) -> PrincipalOut:
    """Deactivate a principal: every token of it stops working."""
    record = access.set_active(store, principal_id, active=False)
    request.app.state.tokens.clear()
    return principal_out(record)


@router.post("/principals/{principal_id}/activate", response_model=PrincipalOut, tags=["access"])
def activate(principal_id: PrincipalIdPath, store: Store) -> PrincipalOut:
    """Reactivate a principal."""
    return principal_out(access.set_active(store, principal_id, active=True))


# -- audit log --------------------------------------------------------------------------------


@router.get("/audit-log", response_model=AuditPage, tags=["access"])
def audit_log(
    store: Store,
    principal: Annotated[str | None, Query(max_length=40)] = None,
    after: int = 0,
    limit: int = PAGE_SIZE_DEFAULT,
) -> AuditPage:
    """Who did what, when, with which token, and the outcome (rejections included)."""
    records = access.list_audit(store, principal, after, limit)
    following = records[-1].seq if len(records) == limit else None
    return AuditPage(records=[_audit_out(r) for r in records], next_cursor=following)


# -- four-eyes requests -----------------------------------------------------------------------


@router.get("/approvals", response_model=list[ApprovalOut], tags=["approvals"])
def list_approvals(
    store: Store,
    caller: Caller,
    state: RequestState | None = None,
    after: Annotated[str, Query(max_length=40)] = "",
    limit: int = PAGE_SIZE_DEFAULT,
) -> list[ApprovalOut]:
    """Requests of the caller's authority (the regulator sees all)."""
    return [approval_out(r) for r in approvals.list_requests(store, caller, state, after, limit)]


@router.get("/approvals/{request_id}", response_model=ApprovalOut, tags=["approvals"])
def get_approval(request_id: KeyPath, store: Store, caller: Caller) -> ApprovalOut:
    """One request."""
    return approval_out(approvals.get(store, request_id, caller))


@router.post("/approvals/{request_id}/approve", response_model=ApprovalOut, tags=["approvals"])
def approve(request_id: KeyPath, store: Store, caller: Caller) -> ApprovalOut:
    """A second principal of the same authority approves: the operation applies, once."""
    return approval_out(approvals.approve(store, request_id, caller))


@router.post("/approvals/{request_id}/reject", response_model=ApprovalOut, tags=["approvals"])
def reject(request_id: KeyPath, body: DecisionIn, store: Store, caller: Caller) -> ApprovalOut:
    """A second principal of the same authority rejects the request."""
    return approval_out(approvals.reject(store, request_id, caller, body.reason))
