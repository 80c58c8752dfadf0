"""Principals, their credentials, and the audit log; separation of duties against administrators.

A token is `elt_<id>_<secret>`: the id is public (logs and the audit log name it), the secret
is shown once and stored only as the SHA-256 of the whole token. Unknown, expired, revoked and
deactivated tokens are refused alike ("not valid"), so a probe learns nothing about which.

Separation of duties (docs/concepts/authority.md):

- administrators create principals but never see a credential: a principal gets its first (or a
  new) token by redeeming a one-time **enrolment code**, and an enrolment is always four-eyes:
  the administrator who asks is shown one half of the code, the one who approves the other half,
  so no administrator alone can ever act as anyone else;
- the person behind an administrator holds no other role, and a person with another role is
  never made an administrator;
- four-eyes compares people, not principals or tokens (`approvals`);
- deactivating a principal withdraws its pending requests.

The operator at the server's shell (`emissions-ledger create-admin`, `recover-admin`) is the
root of trust: it can make and re-credential administrators only, each time audited.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.domain.access import (
    ENROLMENT_LIFETIME_DAYS,
    Actor,
    AuditRecord,
    DutiesConflict,
    Enrolment,
    EnrolmentInvalid,
    IssuedToken,
    Pending,
    Principal,
    PrincipalNotFound,
    PrincipalRecord,
    Role,
    StoredToken,
    TokenNotFound,
    Unauthenticated,
    code_hash,
    hash_secret,
    new_code_part,
    new_token,
    part_hash,
    same_hash,
    split_code,
    split_token,
)
from ledger.domain.errors import InvalidField, RecordExists
from ledger.domain.pages import Created, Page, check_page_size, page_of
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import PartyKind
from ledger.services.authority import gate, use_case
from ledger.services.transactions import in_transaction, read

PRINCIPAL_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
TOKEN_LIFETIME_DEFAULT = timedelta(days=90)
TOKEN_LIFETIME_MAX = timedelta(days=366)
ENROLMENT = "enrolment"  # the four-eyes operation
# The kinds of party a principal of each role may act as: the exchange trades (sells the CEA
# consigned to it) through an enterprise-role representative.
PARTY_KINDS_OF_ROLE = {
    Role.ENTERPRISE: frozenset({PartyKind.ENTERPRISE, PartyKind.EXCHANGE}),
    Role.CITY_AUTHORITY: frozenset({PartyKind.AUTHORITY}),
    Role.REGULATOR: frozenset({PartyKind.AUTHORITY}),
}


@dataclass(frozen=True, slots=True)
class NewPrincipal:
    id: str
    name: str
    role: Role
    party: str | None = None
    kind: str = "user"
    person: str = ""  # the natural person (staff number...); defaults to the principal's id


@dataclass(frozen=True, slots=True)
class EnrolmentRequested:
    """An enrolment waiting for a second administrator, with the asking one's half of the code
    (shown once, never stored)."""

    pending: Pending
    code_part: str


# -- principals -------------------------------------------------------------------------------


@use_case("principals.create")
def create_principal(
    uow_factory: UnitOfWorkFactory, actor: Actor, new: NewPrincipal
) -> Created[PrincipalRecord]:
    """Register a user or service account; a scoped role names the party it acts as. It has no
    credential until it redeems an enrolment code (`request_enrolment`). Its id is the client's:
    the same principal again answers the stored one as a replay, another one `RecordExists`."""
    _check_id(new.id)

    def work(uow: UnitOfWork) -> Created[PrincipalRecord]:
        stored = uow.access.get_principal(new.id)
        if stored is None:
            return Created(_add_principal(uow, new, actor.id))
        asked = (new.name, new.kind, new.role, new.party, new.person or new.id)
        if (stored.name, stored.kind, stored.role, stored.party, stored.person) != asked:
            raise RecordExists(f"principal {new.id!r} already exists", field="id")
        return Created(stored, replayed=True)

    return in_transaction(uow_factory, work, actor=actor)


def _add_principal(uow: UnitOfWork, new: NewPrincipal, created_by: str | None) -> PrincipalRecord:
    if uow.access.get_principal(new.id) is not None:
        raise RecordExists(f"principal {new.id!r} already exists", field="id")
    person = new.person or new.id
    _check_party(uow, new)
    _check_duties(uow, person, new.role)
    record = PrincipalRecord(
        new.id, new.name, new.kind, new.role, new.party, True, uow.now(), created_by, person
    )
    uow.access.add_principal(record)
    return record


def _check_id(principal_id: str) -> None:
    if not PRINCIPAL_ID.match(principal_id):
        raise InvalidField(
            "a principal id is 1–40 lowercase letters, digits, '.', '_' or '-'", field="id"
        )


def _check_party(uow: UnitOfWork, new: NewPrincipal) -> None:
    expected = PARTY_KINDS_OF_ROLE.get(new.role, frozenset())
    if new.party is None:
        if new.role in (Role.ENTERPRISE, Role.CITY_AUTHORITY):
            raise InvalidField(f"a {new.role.value} principal acts as a party", field="party")
        return
    party = uow.registry.get_party(new.party)
    if party is None or party.kind not in expected:
        raise InvalidField(
            f"a {new.role.value} principal cannot act as {new.party!r}", field="party"
        )
    if party.kind is PartyKind.AUTHORITY and (new.role is Role.CITY_AUTHORITY) != bool(party.city):
        raise InvalidField(
            "a city authority acts as its city's authority; a regulator as the province",
            field="party",
        )


def _check_duties(uow: UnitOfWork, person: str, role: Role) -> None:
    """An administrator's person holds no other role, and no other role's person becomes one."""
    held = uow.access.roles_of_person(person)
    clash = (role is Role.ADMINISTRATOR and held - {Role.ADMINISTRATOR}) or (
        role is not Role.ADMINISTRATOR and Role.ADMINISTRATOR in held
    )
    if clash:
        raise DutiesConflict(
            f"person {person!r} would hold an administrator's role beside another",
            field="person",
        )


@use_case("principals.deactivate")
def deactivate(uow_factory: UnitOfWorkFactory, actor: Actor, principal_id: str) -> PrincipalRecord:
    """Deactivate a principal: its tokens stop working at once and its pending four-eyes
    requests are withdrawn."""

    def work(uow: UnitOfWork) -> PrincipalRecord:
        _principal(uow, principal_id)
        uow.access.set_active(principal_id, False)
        uow.access.withdraw_requests(principal_id, uow.now())
        return _principal(uow, principal_id)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("principals.activate")
def activate(uow_factory: UnitOfWorkFactory, actor: Actor, principal_id: str) -> PrincipalRecord:
    """Reactivate a principal (its person's roles are checked again)."""

    def work(uow: UnitOfWork) -> PrincipalRecord:
        record = _principal(uow, principal_id)
        if not record.active:
            _check_duties(uow, record.person, record.role)
        uow.access.set_active(principal_id, True)
        return _principal(uow, principal_id)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("principals.read")
def get_principal(
    uow_factory: UnitOfWorkFactory, actor: Actor, principal_id: str
) -> tuple[PrincipalRecord, list[StoredToken]]:
    return read(
        uow_factory,
        lambda uow: (_principal(uow, principal_id), uow.access.tokens_of(principal_id)),
    )


@use_case("principals.list")
def list_principals(
    uow_factory: UnitOfWorkFactory, actor: Actor, after: str, limit: int
) -> Page[PrincipalRecord]:
    check_page_size(limit)
    found = read(uow_factory, lambda uow: uow.access.list_principals(after, limit))
    return page_of(found, limit, lambda record: record.id)


def _principal(uow: UnitOfWork, principal_id: str) -> PrincipalRecord:
    record = uow.access.get_principal(principal_id)
    if record is None:
        raise PrincipalNotFound(f"principal {principal_id!r} not found")
    return record


# -- enrolment: the only way to a credential ----------------------------------------------------


@use_case("enrolments.issue")
def request_enrolment(
    uow_factory: UnitOfWorkFactory, actor: Actor, principal_id: str
) -> EnrolmentRequested:
    """Ask for an enrolment code for a principal. Always four-eyes: a second administrator
    approves (`approvals.approve`) and is shown the code's other half."""
    part = new_code_part()

    def work(uow: UnitOfWork) -> Pending:
        record = _principal(uow, principal_id)
        if not record.active:
            raise InvalidField(f"principal {principal_id!r} is deactivated", field="principal_id")
        pending = gate(uow, actor, ENROLMENT, _enrolment_payload(principal_id, part_hash(part)))
        assert pending is not None, "an enrolment is always four-eyes"
        return pending

    return EnrolmentRequested(in_transaction(uow_factory, work, actor=actor), part)


def _enrolment_payload(principal_id: str, first_part_hash: str) -> dict[str, str]:
    return {"principal": principal_id, "first_part_hash": first_part_hash}


def run_approved_enrolment(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """The approved enrolment: the code is made, its second half shown to the approver once."""
    second = new_code_part()
    principal_id = str(payload["principal"])

    def work(uow: UnitOfWork) -> dict[str, Any]:
        first_part_hash = str(payload["first_part_hash"])
        if gate(uow, actor, ENROLMENT, _enrolment_payload(principal_id, first_part_hash)):
            raise InvalidField("an enrolment is made only when approved", field="approval")
        assert actor.approval is not None
        now = uow.now()
        enrolment = Enrolment(
            id=f"enr-{secrets.token_hex(8)}",
            principal_id=principal_id,
            code_hash=code_hash(first_part_hash, second),
            requested_by=actor.id,
            approved_by=actor.approval.approver,
            created_at=now,
            expires_at=now + timedelta(days=ENROLMENT_LIFETIME_DAYS),
        )
        uow.access.add_enrolment(enrolment)
        return {
            "enrolment": enrolment.id,
            "principal": principal_id,
            "expires_at": enrolment.expires_at.isoformat(),
            "code_part": second,
        }

    return in_transaction(uow_factory, work, actor=actor)


def redeem_enrolment(
    uow_factory: UnitOfWorkFactory, principal_id: str, code: str, description: str = ""
) -> IssuedToken:
    """A principal's first (or a new) token, for the whole code (`<first>.<second>` half):
    each code works once, within its lifetime."""
    parts = split_code(code)

    def work(uow: UnitOfWork) -> IssuedToken:
        record = uow.access.get_principal(principal_id)
        if parts is None or record is None or not record.active:
            raise EnrolmentInvalid("the enrolment code is not valid")
        presented = code_hash(part_hash(parts[0]), parts[1])
        now = uow.now()
        for enrolment in uow.access.open_enrolments(principal_id, now):
            if same_hash(enrolment.code_hash, presented):
                uow.access.redeem_enrolment(enrolment.id, now)
                issued = _issue(uow, principal_id, description or "enrolment")
                uow.access.append_audit([_line(now, principal_id, "enrolments.redeem")])
                return issued
        raise EnrolmentInvalid("the enrolment code is not valid")

    return in_transaction(uow_factory, work)


# -- tokens -------------------------------------------------------------------------------------


@use_case("tokens.issue_own")
def issue_own_token(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    description: str,
    lifetime: timedelta = TOKEN_LIFETIME_DEFAULT,
) -> IssuedToken:
    """Another token for the calling principal itself (rotation); its secret is in the result and
    nowhere else, ever."""
    return in_transaction(
        uow_factory, lambda uow: _issue(uow, actor.id, description, lifetime), actor=actor
    )


def _issue(
    uow: UnitOfWork,
    principal_id: str,
    description: str,
    lifetime: timedelta = TOKEN_LIFETIME_DEFAULT,
) -> IssuedToken:
    if not timedelta(0) < lifetime <= TOKEN_LIFETIME_MAX:
        raise InvalidField("a token lives between 1 second and 366 days", field="expires_in_days")
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


@use_case("tokens.revoke")
def revoke_token(uow_factory: UnitOfWorkFactory, actor: Actor, token_id: str) -> StoredToken:
    """Revoke a token: an administrator any, every other principal its own."""

    def work(uow: UnitOfWork) -> StoredToken:
        token = uow.access.get_token(token_id)
        if token is None or not (
            actor.role is Role.ADMINISTRATOR or token.principal_id == actor.id
        ):
            raise TokenNotFound(f"token {token_id!r} not found")
        uow.access.revoke_token(token_id, uow.now())
        revoked = uow.access.get_token(token_id)
        assert revoked is not None
        return revoked

    return in_transaction(uow_factory, work, actor=actor)


def authenticate(
    uow_factory: UnitOfWorkFactory, presented: str, now: datetime | None = None
) -> Principal:
    """The principal a bearer token stands for (at `now`, by default the store's clock), or
    `Unauthenticated`."""
    parts = split_token(presented)
    if parts is None:
        raise Unauthenticated("the bearer token is not valid")
    token_id, presented_hash = parts
    return read(uow_factory, lambda uow: _principal_of_token(uow, token_id, presented_hash, now))


def authenticate_token_id(
    uow_factory: UnitOfWorkFactory, token_id: str, now: datetime | None = None
) -> Principal:
    """The principal of a token that authenticated before, by the token's id alone: a console
    session keeps no secret, only the id of the token it signed in with (the session's own
    256-bit id is the proof the browser holds). Refused like `authenticate` once the token is
    revoked or expired or its principal deactivated. Never for a credential a client presents:
    an id is public."""
    return read(uow_factory, lambda uow: _principal_of_token(uow, token_id, None, now))


def _principal_of_token(
    uow: UnitOfWork, token_id: str, presented_hash: str | None, now: datetime | None
) -> Principal:
    token = uow.access.get_token(token_id)
    if token is None or (
        presented_hash is not None and not same_hash(token.secret_hash, presented_hash)
    ):
        raise Unauthenticated("the bearer token is not valid")
    record = uow.access.get_principal(token.principal_id)
    if record is None or not record.active or not token.usable_at(now or uow.now()):
        raise Unauthenticated("the bearer token is not valid", token_id=token_id)
    city = None if record.party is None else uow.access.city_of(record.party)
    return Principal(record.id, record.name, record.role, record.party, city or None, token.id)


# -- the operator at the server's shell ---------------------------------------------------------


def create_administrator(
    uow_factory: UnitOfWorkFactory, principal_id: str, name: str, operator: str, person: str = ""
) -> tuple[PrincipalRecord, IssuedToken]:
    """The shell operator makes an administrator and its token (audited as the operator's)."""
    _check_id(principal_id)
    new = NewPrincipal(principal_id, name, Role.ADMINISTRATOR, person=person)

    def work(uow: UnitOfWork) -> tuple[PrincipalRecord, IssuedToken]:
        record = _add_principal(uow, new, None)
        issued = _issue(uow, principal_id, "created at the server's shell")
        uow.access.append_audit([_line(uow.now(), None, "operator.create_admin", operator)])
        return record, issued

    return in_transaction(uow_factory, work)


def recover_administrator(
    uow_factory: UnitOfWorkFactory, principal_id: str, operator: str
) -> IssuedToken:
    """A new token for an existing, active administrator (a lost credential), from the shell.
    Any other principal gets a new credential through an enrolment, never from the shell.

    The administrator's other live tokens are revoked in the same transaction: a lost credential
    may be in someone else's hands, and recovery is the moment to take it back."""

    def work(uow: UnitOfWork) -> IssuedToken:
        record = _principal(uow, principal_id)
        if record.role is not Role.ADMINISTRATOR or not record.active:
            raise InvalidField(
                "the shell re-credentials active administrators only; every other principal "
                "enrols through two administrators",
                field="principal_id",
            )
        now = uow.now()
        for token in uow.access.tokens_of(principal_id):
            if token.usable_at(now):
                uow.access.revoke_token(token.id, now)
        issued = _issue(uow, principal_id, "recovered at the server's shell")
        uow.access.append_audit(
            [_line(uow.now(), None, "operator.recover_admin", f"{operator}: {principal_id}")]
        )
        return issued

    return in_transaction(uow_factory, work)


def count_administrators(uow_factory: UnitOfWorkFactory) -> int:
    return read(uow_factory, lambda uow: uow.access.count_principals(Role.ADMINISTRATOR))


# -- the audit log ------------------------------------------------------------------------------


def _line(at: datetime, principal_id: str | None, action: str, target: str = "") -> AuditRecord:
    return AuditRecord(at, principal_id, None, action, target or action, "ok", None)


def record_audit(uow_factory: UnitOfWorkFactory, records: Sequence[AuditRecord]) -> None:
    """Audit lines that no use case writes: the API's denials and failed authentications."""
    in_transaction(uow_factory, lambda uow: uow.access.append_audit(records))


@use_case("audit.list")
def list_audit(
    uow_factory: UnitOfWorkFactory, actor: Actor, principal_id: str | None, after: int, limit: int
) -> Page[AuditRecord]:
    check_page_size(limit)
    found = read(uow_factory, lambda uow: uow.access.list_audit(principal_id, after, limit))
    return page_of(found, limit, lambda record: str(record.seq))


def city_of(uow_factory: UnitOfWorkFactory, party: str) -> str | None:
    """The city of a party (None for the province, the exchange and unknown parties)."""
    return read(uow_factory, lambda uow: uow.access.city_of(party))
