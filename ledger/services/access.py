"""Principals and their API tokens: create, authenticate, revoke; and the audit log.

A token is `elt_<id>_<secret>`: the id is public (logs and the audit log name it), the secret
is shown once and stored only as the SHA-256 of the whole token. Unknown, expired, revoked and
deactivated tokens are refused alike ("not valid"), so a probe learns nothing about which.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.domain.access import (
    AuditRecord,
    IssuedToken,
    Principal,
    PrincipalNotFound,
    PrincipalRecord,
    Role,
    StoredToken,
    TokenNotFound,
    Unauthenticated,
    acting,
    hash_secret,
    new_token,
    same_hash,
    split_token,
)
from ledger.domain.errors import InvalidField, RecordExists
from ledger.domain.pages import check_page_size
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import PartyKind
from ledger.services.transactions import in_transaction, read

PRINCIPAL_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
TOKEN_LIFETIME_DEFAULT = timedelta(days=90)
TOKEN_LIFETIME_MAX = timedelta(days=366)
# The party kind each scoped role must act as.
PARTY_KIND_OF_ROLE = {
    Role.ENTERPRISE: PartyKind.ENTERPRISE,
    Role.CITY_AUTHORITY: PartyKind.AUTHORITY,
    Role.REGULATOR: PartyKind.AUTHORITY,
}


@dataclass(frozen=True, slots=True)
class NewPrincipal:
    id: str
    name: str
    role: Role
    party: str | None = None
    kind: str = "user"


def create_principal(
    uow_factory: UnitOfWorkFactory, new: NewPrincipal, created_by: str | None
) -> PrincipalRecord:
    """Register a user or service account; a scoped role names the party it acts as."""
    _check_id(new.id)

    def work(uow: UnitOfWork) -> PrincipalRecord:
        if uow.access.get_principal(new.id) is not None:
            raise RecordExists(f"principal {new.id!r} already exists", field="id")
        _check_party(uow, new)
        record = PrincipalRecord(
            new.id, new.name, new.kind, new.role, new.party, True, uow.now(), created_by
        )
        uow.access.add_principal(record)
        return record

    return in_transaction(uow_factory, work)


def _check_id(principal_id: str) -> None:
    if not PRINCIPAL_ID.match(principal_id):
        raise InvalidField(
            "a principal id is 1–40 lowercase letters, digits, '.', '_' or '-'", field="id"
        )


def _check_party(uow: UnitOfWork, new: NewPrincipal) -> None:
    expected = PARTY_KIND_OF_ROLE.get(new.role)
    if new.party is None:
        if new.role in (Role.ENTERPRISE, Role.CITY_AUTHORITY):
            raise InvalidField(f"a {new.role.value} principal acts as a party", field="party")
        return
    party = uow.registry.get_party(new.party)
    if expected is None or party is None or party.kind is not expected:
        raise InvalidField(
            f"a {new.role.value} principal cannot act as {new.party!r}", field="party"
        )
    if expected is PartyKind.AUTHORITY and (new.role is Role.CITY_AUTHORITY) != bool(party.city):
        raise InvalidField(
            "a city authority acts as its city's authority; a regulator as the province",
            field="party",
        )


def create_administrator(
    uow_factory: UnitOfWorkFactory, principal_id: str, name: str
) -> tuple[PrincipalRecord, IssuedToken]:
    """Bootstrap: the first administrator and a token (refused once one exists)."""
    _check_id(principal_id)

    def work(uow: UnitOfWork) -> tuple[PrincipalRecord, IssuedToken]:
        if uow.access.count_principals(Role.ADMINISTRATOR) > 0:
            raise RecordExists("an administrator exists: use it to manage principals")
        record = PrincipalRecord(
            principal_id, name, "user", Role.ADMINISTRATOR, None, True, uow.now(), None
        )
        uow.access.add_principal(record)
        return record, _issue(uow, principal_id, "bootstrap", TOKEN_LIFETIME_DEFAULT)

    return in_transaction(uow_factory, work)


def issue_token(
    uow_factory: UnitOfWorkFactory,
    principal_id: str,
    description: str,
    lifetime: timedelta = TOKEN_LIFETIME_DEFAULT,
) -> IssuedToken:
    """A new token for a principal; its secret is in the result and nowhere else, ever."""
    if not timedelta(0) < lifetime <= TOKEN_LIFETIME_MAX:
        raise InvalidField("a token lives between 1 second and 366 days", field="expires_in_days")

    def work(uow: UnitOfWork) -> IssuedToken:
        _principal(uow, principal_id)
        return _issue(uow, principal_id, description, lifetime)

    return in_transaction(uow_factory, work)


def _issue(
    uow: UnitOfWork, principal_id: str, description: str, lifetime: timedelta
) -> IssuedToken:
    now = uow.now()
    issued = new_token(principal_id, now + lifetime)
    stored = StoredToken(
        issued.id,
        principal_id,
        description,
        now,
        issued.expires_at,
        None,
        hash_secret(issued.secret),
    )
    uow.access.add_token(stored)
    return issued


def revoke_token(uow_factory: UnitOfWorkFactory, token_id: str) -> StoredToken:
    def work(uow: UnitOfWork) -> StoredToken:
        if uow.access.get_token(token_id) is None:
            raise TokenNotFound(f"no token {token_id!r}")
        uow.access.revoke_token(token_id, uow.now())
        token = uow.access.get_token(token_id)
        assert token is not None
        return token

    return in_transaction(uow_factory, work)


def set_active(uow_factory: UnitOfWorkFactory, principal_id: str, active: bool) -> PrincipalRecord:
    """Deactivate (every token stops working at once) or reactivate a principal."""

    def work(uow: UnitOfWork) -> PrincipalRecord:
        _principal(uow, principal_id)
        uow.access.set_active(principal_id, active)
        return _principal(uow, principal_id)

    return in_transaction(uow_factory, work)


def get_principal(
    uow_factory: UnitOfWorkFactory, principal_id: str
) -> tuple[PrincipalRecord, list[StoredToken]]:
    return read(
        uow_factory,
        lambda uow: (_principal(uow, principal_id), uow.access.tokens_of(principal_id)),
    )


def list_principals(
    uow_factory: UnitOfWorkFactory, after: str, limit: int
) -> list[PrincipalRecord]:
    check_page_size(limit)
    return read(uow_factory, lambda uow: uow.access.list_principals(after, limit))


def _principal(uow: UnitOfWork, principal_id: str) -> PrincipalRecord:
    record = uow.access.get_principal(principal_id)
    if record is None:
        raise PrincipalNotFound(f"no principal {principal_id!r}")
    return record


def authenticate(uow_factory: UnitOfWorkFactory, presented: str, now: datetime) -> Principal:
    """The principal a bearer token stands for, or `Unauthenticated`."""
    parts = split_token(presented)
    if parts is None:
        raise Unauthenticated("the bearer token is not valid")
    token_id, presented_hash = parts

    def work(uow: UnitOfWork) -> Principal:
        token = uow.access.get_token(token_id)
        if token is None or not same_hash(token.secret_hash, presented_hash):
            raise Unauthenticated("the bearer token is not valid")
        record = uow.access.get_principal(token.principal_id)
        if record is None or not record.active or not token.usable_at(now):
            raise Unauthenticated("the bearer token is not valid", token_id=token_id)
        city = None if record.party is None else uow.access.city_of(record.party)
        return Principal(record.id, record.name, record.role, record.party, city or None, token.id)

    return read(uow_factory, work)


def record_audit(uow_factory: UnitOfWorkFactory, records: Sequence[AuditRecord]) -> None:
    """Audit lines that no write carries: rejections, denials, failed authentication."""
    outer = acting.set(None)  # this write is the audit itself: no "ok" line of its own
    try:
        in_transaction(uow_factory, lambda uow: uow.access.append_audit(records))
    finally:
        acting.reset(outer)


def list_audit(
    uow_factory: UnitOfWorkFactory, principal_id: str | None, after: int, limit: int
) -> list[AuditRecord]:
    check_page_size(limit)
    return read(uow_factory, lambda uow: uow.access.list_audit(principal_id, after, limit))


def city_of(uow_factory: UnitOfWorkFactory, party: str) -> str | None:
    """The city of a party (None for the province, the exchange and unknown parties)."""
    return read(uow_factory, lambda uow: uow.access.city_of(party))
