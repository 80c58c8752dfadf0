"""Who is calling: roles, principals and the scope of what each may see.

Roles (issue "Who may do what"):

- `regulator`: the provincial authority; sees and acts on everything in the registry.
- `city_authority`: a city's authority; sees the parties of its city only.
- `enterprise`: an enterprise's representative; sees its own enterprise only.
- `verifier`: verifies emission reports (never its own submissions); reads everything.
- `finance`: finance staff and auditors; read everything, write only reconciliation and
  period close.
- `administrator`: manages principals and tokens; sees no registry data it does not need.

A principal acts *as* its party (`party`): an enterprise's code, or the authority party of the
province or of a city. Whatever is out of a principal's scope does not exist for it: services
raise the resource's not-found error, so existence never leaks (404, not 403).

The acting principal of the current request travels in a context variable (`acting`), so
that the unit of work can write the audit record of a write in the same transaction as the
write itself: committed ⇔ audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
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
class Acting:
    """The principal behind the current request and what it asked for, for the audit log."""

    principal_id: str
    token_id: str | None
    action: str  # "POST /v1/trades/{trade_id}/accept"
    target: str  # the concrete path, "/v1/trades/T-1/accept"
    status: int  # the HTTP status the operation answers when it succeeds


acting: ContextVar[Acting | None] = ContextVar("acting", default=None)


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


# --- Four-eyes requests ----------------------------------------------------------------------


class RequestState(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"
    EXPIRED = "expired"


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
    decided_by: str | None = None
    decided_at: datetime | None = None
    result: Mapping[str, Any] | None = None
    reason: str | None = None


def authority_of(principal: Principal) -> str:
    """Who must approve: the same party (province or city) or, without one, the same role."""
    return principal.party or f"role:{principal.role.value}"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the append-only audit log."""

    at: datetime
    principal_id: str | None
    token_id: str | None
    action: str
    target: str
    outcome: str  # ok, rejected, denied, unauthenticated
    status: int
    code: str | None = None
    seq: int | None = None

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
    """The principal that initiated a four-eyes request tries to approve or reject it."""


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
