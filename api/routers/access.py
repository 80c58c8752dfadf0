"""Access control over HTTP: principals and their enrolment (administrators), tokens, who-am-I,
the audit log, and four-eyes requests (list, approve, reject). Authority is the services'
(`ledger.services.access`, `ledger.services.approvals`); this module translates HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Path, Query, Request, Response
from pydantic import Field

from api.answers import ApprovalOut, approval_out, created
from api.auth import Acts, failed_authentication
from api.dependencies import Cursor, Store
from api.routing import Routes
from api.schemas import NO_NUL, Strict
from ledger.domain.access import (
    AuditRecord,
    EnrolmentInvalid,
    IssuedToken,
    PrincipalRecord,
    RequestState,
    Role,
    StoredToken,
)
from ledger.domain.bounds import is_digits
from ledger.domain.errors import InvalidCursor
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.services import access, approvals

router = Routes(prefix="/v1")

PrincipalId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$")]
PrincipalIdPath = Annotated[str, Path(max_length=40, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
KeyPath = Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class PrincipalIn(Strict):
    id: PrincipalId
    name: Annotated[str, Field(min_length=1, max_length=200), NO_NUL]
    role: Role
    party: Annotated[str, Field(max_length=32), NO_NUL] | None = None
    kind: Annotated[str, Field(pattern="^(user|service)$")] = "user"
    person: Annotated[
        str,
        Field(
            max_length=64,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$|^$",
            description="the natural person behind the principal (a staff number, say); "
            "four-eyes compares people. Default: the principal's id",
        ),
    ] = ""


class TokenIn(Strict):
    description: Annotated[str, Field(max_length=200), NO_NUL] = ""
    expires_in_days: Annotated[int, Field(ge=1, le=366)] = 90


class RedeemIn(Strict):
    principal: PrincipalId
    code: Annotated[str, Field(min_length=3, max_length=100), NO_NUL]
    description: Annotated[str, Field(max_length=200), NO_NUL] = ""


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
    person: str
    active: bool
    created_at: datetime
    created_by: str | None
    tokens: list[TokenOut] = []


class PrincipalPage(Strict):
    principals: list[PrincipalOut]
    next_cursor: str | None


class EnrolmentRequestOut(ApprovalOut):
    code_part: str = Field(
        description="your half of the enrolment code, shown once: hand it to the principal; "
        "the approving administrator is shown the other half"
    )


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
    status: int | None
    code: str | None
    request_id: str | None


class AuditPage(Strict):
    records: list[AuditOut]
    next_cursor: str | None


class ApprovalPage(Strict):
    requests: list[ApprovalOut]
    next_cursor: str | None


class DecisionIn(Strict):
    reason: Annotated[str, Field(max_length=400), NO_NUL] = ""


def principal_out(record: PrincipalRecord, tokens: list[StoredToken] | None = None) -> PrincipalOut:
    return PrincipalOut(
        id=record.id,
        name=record.name,
        kind=record.kind,
        role=record.role.value,
        party=record.party,
        person=record.person,
        active=record.active,
        created_at=record.created_at,
        created_by=record.created_by,
        tokens=[_token_out(t) for t in tokens or []],
    )


def _token_out(token: StoredToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        description=token.description,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
    )


def _issued_out(issued: IssuedToken) -> IssuedTokenOut:
    return IssuedTokenOut(
        id=issued.id,
        principal=issued.principal_id,
        token=issued.secret,
        expires_at=issued.expires_at,
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
        request_id=record.request_id,
    )


# -- who am I ---------------------------------------------------------------------------------


@router.get("/me", response_model=MeOut, tags=["access"])
def me(actor: Acts) -> MeOut:
    """The principal behind the presented token."""
    caller = actor.principal
    return MeOut(
        id=caller.id,
        name=caller.name,
        role=caller.role.value,
        party=caller.party,
        city=caller.city,
        token_id=caller.token_id,
    )


@router.post("/me/tokens", response_model=IssuedTokenOut, status_code=201, tags=["access"])
def issue_own_token(body: TokenIn, store: Store, actor: Acts) -> IssuedTokenOut:
    """Another token for yourself (say, to rotate one): the response is the only place its
    secret ever appears."""
    lifetime = timedelta(days=body.expires_in_days)
    return _issued_out(access.issue_own_token(store, actor, body.description, lifetime))


# -- principals and enrolment (administrators) ------------------------------------------------


@router.post("/principals", response_model=PrincipalOut, status_code=201, tags=["access"])
def create_principal(
    body: PrincipalIn, store: Store, actor: Acts, response: Response
) -> PrincipalOut:
    """Register a user or service account; scoped roles name the party they act as. It has no
    credential until it redeems an enrolment code. The same principal again answers it with
    `Idempotent-Replayed: true`; another one under the same id is a 409."""
    new = access.NewPrincipal(body.id, body.name, body.role, body.party, body.kind, body.person)
    return created(response, access.create_principal(store, actor, new), principal_out)


@router.get("/principals", response_model=PrincipalPage, tags=["access"])
def list_principals(
    store: Store, actor: Acts, cursor: Cursor = None, limit: int = PAGE_SIZE_DEFAULT
) -> PrincipalPage:
    """Principals in id order; follow `next_cursor`."""
    page = access.list_principals(store, actor, cursor or "", limit)
    return PrincipalPage(
        principals=[principal_out(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.get("/principals/{principal_id}", response_model=PrincipalOut, tags=["access"])
def get_principal(principal_id: PrincipalIdPath, store: Store, actor: Acts) -> PrincipalOut:
    """A principal and its tokens (never their secrets)."""
    return principal_out(*access.get_principal(store, actor, principal_id))


@router.post(
    "/principals/{principal_id}/enrolments",
    response_model=EnrolmentRequestOut,
    status_code=202,
    tags=["access"],
)
def request_enrolment(
    principal_id: PrincipalIdPath, store: Store, actor: Acts
) -> EnrolmentRequestOut:
    """Ask for an enrolment code for a principal (its first token, or a lost one). A second
    administrator approves; each of you is shown one half of the code, which the principal
    redeems whole at `POST /v1/enrolments/redeem`."""
    requested = access.request_enrolment(store, actor, principal_id)
    shown = approval_out(requested.pending.request).model_dump()
    return EnrolmentRequestOut(**shown, code_part=requested.code_part)


@router.post("/enrolments/redeem", response_model=IssuedTokenOut, status_code=201, tags=["access"])
def redeem_enrolment(body: RedeemIn, store: Store, request: Request) -> IssuedTokenOut:
    """A principal redeems its enrolment code (`<first half>.<second half>`) for a token,
    once. A wrong code counts as a failed authentication of the caller's address."""
    try:
        issued = access.redeem_enrolment(store, body.principal, body.code, body.description)
    except EnrolmentInvalid as error:
        failed_authentication(request, error, None)
        raise
    return _issued_out(issued)


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut, tags=["access"])
def revoke_token(token_id: KeyPath, store: Store, actor: Acts, request: Request) -> TokenOut:
    """Revoke a token at once (this process; others within a few seconds): an administrator
    any token, everyone else their own."""
    token = access.revoke_token(store, actor, token_id)
    request.app.state.tokens.clear()
    return _token_out(token)


@router.post("/principals/{principal_id}/deactivate", response_model=PrincipalOut, tags=["access"])
def deactivate(
    principal_id: PrincipalIdPath, store: Store, actor: Acts, request: Request
) -> PrincipalOut:
    """Deactivate a principal: every token of it stops working, its pending four-eyes requests
    are withdrawn."""
    record = access.deactivate(store, actor, principal_id)
    request.app.state.tokens.clear()
    return principal_out(record)


@router.post("/principals/{principal_id}/activate", response_model=PrincipalOut, tags=["access"])
def activate(principal_id: PrincipalIdPath, store: Store, actor: Acts) -> PrincipalOut:
    """Reactivate a principal."""
    return principal_out(access.activate(store, actor, principal_id))


# -- audit log --------------------------------------------------------------------------------


@router.get("/audit-log", response_model=AuditPage, tags=["access"])
def audit_log(
    store: Store,
    actor: Acts,
    principal: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> AuditPage:
    """Who did what, when, with which token, and the outcome (rejections included)."""
    page = access.list_audit(store, actor, principal, _seq(cursor), limit)
    return AuditPage(records=[_audit_out(r) for r in page.items], next_cursor=page.next_cursor)


def _seq(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not is_digits(cursor) or len(cursor) > 18:
        raise InvalidCursor("the cursor is not one this listing issued", field="cursor")
    return int(cursor)


# -- four-eyes requests -----------------------------------------------------------------------


@router.get("/approvals", response_model=ApprovalPage, tags=["approvals"])
def list_approvals(
    store: Store,
    actor: Acts,
    state: RequestState | None = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> ApprovalPage:
    """Requests of the caller's authority (the provincial regulator sees all)."""
    page = approvals.list_requests(store, actor, state, cursor or "", limit)
    return ApprovalPage(
        requests=[approval_out(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/approvals/{request_id}", response_model=ApprovalOut, tags=["approvals"])
def get_approval(request_id: KeyPath, store: Store, actor: Acts) -> ApprovalOut:
    """One request."""
    return approval_out(approvals.get(store, actor, request_id))


@router.post("/approvals/{request_id}/approve", response_model=ApprovalOut, tags=["approvals"])
def approve(request_id: KeyPath, store: Store, actor: Acts) -> ApprovalOut:
    """A second person of the same authority approves: the operation applies, once. An
    enrolment's result carries the approver's half of the code, shown only here."""
    return approval_out(approvals.approve(store, actor, request_id))


@router.post("/approvals/{request_id}/reject", response_model=ApprovalOut, tags=["approvals"])
def reject(request_id: KeyPath, body: DecisionIn, store: Store, actor: Acts) -> ApprovalOut:
    """A second person of the same authority rejects the request."""
    return approval_out(approvals.reject(store, actor, request_id, body.reason))
