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

from ledger.domain.errors import Kind, rejection


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


Unauthenticated = rejection(
    "unauthenticated", Kind.UNAUTHENTICATED, "A valid bearer token is required"
)
Forbidden = rejection("forbidden", Kind.FORBIDDEN, "Your role may not perform this operation")
PrincipalNotFound = rejection("principal_not_found", Kind.NOT_FOUND, "Principal not found")
TokenNotFound = rejection("token_not_found", Kind.NOT_FOUND, "Token not found")
ApprovalNotFound = rejection(
    "approval_request_not_found", Kind.NOT_FOUND, "Approval request not found"
)
SelfApproval = rejection(
    "self_approval", Kind.UNPROCESSABLE, "The initiator of a request may not decide it"
)
OtherAuthority = rejection(
    "approval_other_authority",
    Kind.UNPROCESSABLE,
    "Only a principal of the requesting authority may decide",
)
RequestDecided = rejection(
    "approval_already_decided", Kind.CONFLICT, "The request is already decided"
)
RequestExpired = rejection("approval_expired", Kind.CONFLICT, "The request has expired")
ActorMismatch = rejection("actor_mismatch", Kind.FORBIDDEN, "You may act only as your own party")
