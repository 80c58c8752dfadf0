"""Who is calling: roles, principals and the scope of what each may see.

Roles (issue "Who may do what"):

- `regulator`: the provincial authority; sees and acts on everything in the registry.
- `city_authority`: a city's authority; sees the parties of its city only.
- `enterprise`: an enterprise's representative; sees its own enterprise only.
- `verifier`: verifies emission reports (never its own submissions); reads everything.
- `finance`: finance staff and auditors; read everything, write only reconciliation and
  period close.
- `administrator`: manages principals and tokens; sees no registry data it does not need.
- `cems_network`: the monitoring network's service account: delivers CEMS hourly data for any
  outlet (rules.md §7.4: CEMS data never come from the enterprise) and does nothing else.

A principal acts *as* its party (`party`): an enterprise's code, or the authority party of the
province or of a city. Whatever is out of a principal's scope does not exist for it: services
raise the resource's not-found error, so existence never leaks (404, not 403).

Every use case is called with an `Actor`: the principal, what it is doing (the operation's
name) and where the call came from (the request or command line, for the audit log). The
services check the actor's role against `ledger.domain.operations`, filter what it sees by its
scope, send four-eyes operations through one gate and write the audit line in the same
transaction as the change (`ledger.services.authority`): whoever calls, HTTP, CLI, demo or
console, passes the same checks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ledger.domain.bounds import escaped
from ledger.domain.errors import Kind, LedgerError


class Role(StrEnum):
    REGULATOR = "regulator"
    CITY_AUTHORITY = "city_authority"
    ENTERPRISE = "enterprise"
    VERIFIER = "verifier"
    FINANCE = "finance"
    ADMINISTRATOR = "administrator"
    CEMS_NETWORK = "cems_network"


# Roles whose view of the registry is limited to one party (enterprise) or one city.
SCOPED_ROLES = frozenset({Role.ENTERPRISE, Role.CITY_AUTHORITY})


@dataclass(frozen=True, slots=True)
class Scope:
    """What a principal may see: everything (`party` and `city` both None), one party, or one
    city's parties."""

    party: str | None = None
    city: str | None = None

    @property
    def unlimited(self) -> bool:
        return self.party is None and self.city is None

    def sees(self, party: str | None, party_city: str | None) -> bool:
        """Whether a record belonging to `party` (located in `party_city`) is visible."""
        if self.party is not None:
            return party == self.party
        if self.city is not None:
            return party_city == self.city
        return True

    def covers_authority(self, city: str | None) -> bool:
        """Whether this scope takes in all of an authority's: a city's (`city`), or the
        province's (None), which sees everything. Only an unlimited scope covers the province's;
        a city's covers its own city's only; a party's covers no authority's."""
        if self.unlimited:
            return True
        return city is not None and self.party is None and self.city == city


EVERYTHING = Scope()


@dataclass(frozen=True, slots=True)
class Principal:
    """A user or service account, as authenticated for one request."""

    id: str
    name: str
    role: Role
    party: str | None  # the party it acts as; None for verifier, finance and administrator
    city: str | None  # the city of a city authority
    token_id: str | None = None

    @property
    def scope(self) -> Scope:
        if self.role is Role.ENTERPRISE:
            return Scope(party=self.party)
        if self.role is Role.CITY_AUTHORITY:
            return Scope(city=self.city)
        return EVERYTHING


@dataclass(frozen=True, slots=True)
class Approval:
    """The four-eyes request an actor carries out: set only by the approvals service, and
    checked against the stored request by the gate (a forged one matches no pending request)."""

    request_id: str
    approver: str


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs a use case, and what for: the principal (role, scope), the operation's name
    ("trades.accept"), and what the caller asked (`target`: "POST /v1/trades/T1/accept",
    "cli: close-period 2026-03") with its request id, for the audit line."""

    principal: Principal
    operation: str = ""
    target: str = ""
    request_id: str | None = None
    approval: Approval | None = None

    @property
    def id(self) -> str:
        return self.principal.id

    @property
    def role(self) -> Role:
        return self.principal.role

    @property
    def party(self) -> str | None:
        return self.principal.party

    @property
    def scope(self) -> Scope:
        return self.principal.scope

    def doing(self, operation: str) -> Actor:
        """The same actor, performing `operation` (the name its audit line carries)."""
        return replace(self, operation=operation)

    def audit(self, at: datetime, outcome: str, code: str | None = None) -> AuditRecord:
        """The audit line of this actor's operation."""
        return AuditRecord(
            at=at,
            principal_id=self.principal.id,
            token_id=self.principal.token_id,
            action=self.operation,
            target=self.target,
            outcome=outcome,
            status=None,
            code=code,
            request_id=self.request_id,
        )


@dataclass(frozen=True, slots=True)
class FourEyesPolicy:
    """Which operations need a second principal (configured by the operator, not by a
    regulator: `LEDGER_FOUR_EYES`), and the allocation size (t/a) above which an allocation
    is one of them."""

    operations: frozenset[str]
    allocation_threshold_t: Decimal = Decimal(1000)

    def needs(self, operation: str) -> bool:
        return operation in self.operations or operation in FOUR_EYES_ALWAYS


# What needs four eyes unless the operator says otherwise: whatever creates, destroys or undoes
# rights or cash (a buy-back pays public money from a budget that may go below zero; a rights
# penalty creates a receivable of 100,000 CNY or more, and so does closing a carbon obligation
# with a shortfall, at a price one regulator states), a permit that lowers tax, a tax incentive
# that books the province's tax expenditure on one regulator's figures (an equipment credit, a
# retrofit project and its years, a credit year), and reopening a closed period.
FOUR_EYES_OPERATIONS = frozenset(
    {
        "allocation",
        "buy_back",
        "cancellation",
        "confiscation",
        "reversal",
        "adjustment",
        "penalty",
        "obligation_close",
        "permit",
        "tax_incentive",
        "period_reopen",
    }
)
FOUR_EYES_DEFAULT = FourEyesPolicy(FOUR_EYES_OPERATIONS)
# What no configuration can take out of four-eyes: a credential, reopening a closed period, and
# an entry of the tax tables (a rate or a tier decides every enterprise's tax).
FOUR_EYES_ALWAYS = frozenset({"enrolment", "period_reopen", "tax_table"})


# --- Tokens --------------------------------------------------------------------------------

TOKEN_PREFIX = "elt"  # noqa: S105 - a marker, not a secret
TOKEN_ID_BYTES = 6  # 12 hex characters: the public, loggable part of a token
TOKEN_SECRET_BYTES = 32  # 256 bits: a plain SHA-256 is enough, no slow hash needed


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as shown once at creation: `secret` is never stored nor shown again."""

    id: str
    principal_id: str
    secret: str
    expires_at: datetime | None


def new_token(principal_id: str, expires_at: datetime | None) -> IssuedToken:
    token_id = secrets.token_hex(TOKEN_ID_BYTES)
    secret = secrets.token_urlsafe(TOKEN_SECRET_BYTES)
    return IssuedToken(token_id, principal_id, f"{TOKEN_PREFIX}_{token_id}_{secret}", expires_at)


def split_token(presented: str) -> tuple[str, str] | None:
    """(token id, its hash) of a presented bearer token, or None if it is not one of ours."""
    prefix, _, rest = presented.partition("_")
    token_id, separator, secret = rest.partition("_")  # the id is hex; the secret may hold "_"
    if prefix != TOKEN_PREFIX or not separator or len(token_id) != _TOKEN_ID_CHARS or not secret:
        return None
    return token_id, hash_secret(presented)


def hash_secret(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def same_hash(stored: str, presented: str) -> bool:
    return hmac.compare_digest(stored, presented)


_TOKEN_ID_CHARS = 2 * TOKEN_ID_BYTES


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token as stored: its hash, never its secret."""

    id: str
    principal_id: str
    description: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    secret_hash: str

    def usable_at(self, instant: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or instant < self.expires_at


@dataclass(frozen=True, slots=True)
class PrincipalRecord:
    """A principal as registered."""

    id: str
    name: str
    kind: str  # "user" or "service"
    role: Role
    party: str | None
    active: bool
    created_at: datetime
    created_by: str | None
    person: str  # the natural person behind it: four-eyes compares people, not principals


# --- Four-eyes requests ----------------------------------------------------------------------


class RequestState(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # its initiator was deactivated


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """An operation waiting for a second principal of the same authority."""

    id: str
    operation: str
    payload: Mapping[str, Any]
    authority: str
    initiator: str
    state: RequestState
    created_at: datetime
    expires_at: datetime
    initiator_person: str = ""
    decided_by: str | None = None
    decided_at: datetime | None = None
    result: Mapping[str, Any] | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """What a four-eyes operation answers instead of acting: the request a second principal
    must approve (`replayed`: a retry found it stored already)."""

    request: ApprovalRequest
    replayed: bool = False


def authority_of(principal: Principal) -> str:
    """Who must approve: the same party (province or city) or, without one, the same role."""
    return principal.party or f"role:{principal.role.value}"


ENROLMENT_LIFETIME_DAYS = 3
ENROLMENT_PART_BYTES = 16  # 128 bits per part: two parts, from two administrators


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A one-time code a principal redeems for a token; only its hash is stored. The code is
    `<part of the requesting administrator>.<part of the approving one>`."""

    id: str
    principal_id: str
    code_hash: str
    requested_by: str
    approved_by: str | None
    created_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None = None


def new_code_part() -> str:
    return secrets.token_urlsafe(ENROLMENT_PART_BYTES)


def part_hash(part: str) -> str:
    """What the requesting part is stored as in the (visible) four-eyes request."""
    return hashlib.sha256(f"enrolment-part:{part}".encode()).hexdigest()


def code_hash(first_part_hash: str, second_part: str) -> str:
    """The stored hash of a whole code, from the first part's hash and the second part."""
    return hashlib.sha256(f"enrolment:{first_part_hash}:{second_part}".encode()).hexdigest()


def split_code(code: str) -> tuple[str, str] | None:
    first, separator, second = code.strip().partition(".")
    return (first, second) if separator and first and second else None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the append-only audit log."""

    at: datetime
    principal_id: str | None
    token_id: str | None
    action: str
    target: str
    outcome: str  # ok, pending (a four-eyes request), rejected, denied, unauthenticated
    status: int | None  # the HTTP status, on lines the API writes (denied, unauthenticated)
    code: str | None = None
    seq: int | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        # What a client sent (a path with a NUL in it) is recorded, never refused: escaped.
        object.__setattr__(self, "action", escaped(self.action))
        object.__setattr__(self, "target", escaped(self.target))


class Unauthenticated(
    LedgerError,
    code="unauthenticated",
    kind=Kind.UNAUTHENTICATED,
    title="A valid bearer token is required",
):
    """A request has no bearer token, or one that is malformed, unknown, expired or revoked, or
    whose principal is inactive."""


class Forbidden(
    LedgerError,
    code="forbidden",
    kind=Kind.FORBIDDEN,
    title="Your role may not perform this operation",
):
    """The caller's role has no permission for the operation it calls."""


class PrincipalNotFound(
    LedgerError, code="principal_not_found", kind=Kind.NOT_FOUND, title="Principal not found"
):
    """The principal named does not exist."""


class TokenNotFound(
    LedgerError, code="token_not_found", kind=Kind.NOT_FOUND, title="Token not found"
):
    """The token named (to revoke) does not exist."""


class ApprovalNotFound(
    LedgerError,
    code="approval_request_not_found",
    kind=Kind.NOT_FOUND,
    title="Approval request not found",
):
    """The four-eyes approval request named does not exist, or is of another authority."""


class SelfApproval(
    LedgerError,
    code="self_approval",
    kind=Kind.UNPROCESSABLE,
    title="The initiator of a request may not decide it",
):
    """The person who initiated a four-eyes request tries to approve or reject it, under the
    same principal or another one of theirs."""


class OtherAuthority(
    LedgerError,
    code="approval_other_authority",
    kind=Kind.UNPROCESSABLE,
    title="Only a principal of the requesting authority may decide",
):
    """A principal of another authority tries to decide a four-eyes request."""


class RequestDecided(
    LedgerError,
    code="approval_already_decided",
    kind=Kind.CONFLICT,
    title="The request is already decided",
):
    """A four-eyes request is decided again, or was decided concurrently."""


class RequestExpired(
    LedgerError, code="approval_expired", kind=Kind.CONFLICT, title="The request has expired"
):
    """A four-eyes request is decided after it expired."""


class ActorMismatch(
    LedgerError,
    code="actor_mismatch",
    kind=Kind.FORBIDDEN,
    title="You may act only as your own party",
):
    """A request names as its actor a party other than the caller's own (or any party, for a
    principal that acts as none)."""


class EnrolmentInvalid(
    LedgerError,
    code="enrolment_code_invalid",
    kind=Kind.UNAUTHENTICATED,
    title="The enrolment code is not valid",
):
    """A principal redeems an enrolment code that is wrong, incomplete (one administrator's half
    only), expired or already used, or the principal is unknown or deactivated."""


class DutiesConflict(
    LedgerError,
    code="separation_of_duties",
    kind=Kind.UNPROCESSABLE,
    title="One person may not hold an administrator's role and another role",
):
    """A principal would give the person behind an administrator another role, or make a person
    with another role an administrator."""


class RateLimited(
    LedgerError,
    code="rate_limited",
    kind=Kind.TOO_MANY,
    title="Too many requests: slow down",
):
    """A source failed to authenticate too often, or a principal sent too many requests, within
    the configured window (`LEDGER_FAILED_AUTH_LIMIT`, `LEDGER_REQUEST_LIMIT`)."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after  # seconds, for the Retry-After header
