"""Principals, tokens, four-eyes requests and the audit log over one SQLAlchemy connection.

Tokens are stored as the SHA-256 of the presented token only. The audit log is append-only (a
trigger refuses UPDATE and DELETE); a request's decision is a conditional UPDATE of a pending
row, so two approvers racing cannot both apply it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.engine import Row

from ledger.domain.access import (
    ApprovalRequest,
    AuditRecord,
    Enrolment,
    PrincipalRecord,
    RequestState,
    Role,
    StoredToken,
)
from ledger.persistence import sqlite_write_path
from ledger.persistence import tables as t


class SqlAccessRepository:
    """Who may act: principals and their tokens; what they asked: requests and the audit log."""

    def __init__(self, connection: Connection, *, defer_audit: bool = False) -> None:
        self._connection = connection
        # With `defer_audit`, audit lines wait for the commit, which writes them in the same
        # round trip as its COMMIT (PostgreSQL: `SqlUnitOfWork.commit`).
        self._deferred: list[dict[str, Any]] | None = [] if defer_audit else None
        self._sqlite = connection.dialect.name == "sqlite"

    # -- principals and tokens --------------------------------------------------------------

    def add_principal(self, principal: PrincipalRecord) -> None:
        self._connection.execute(
            insert(t.principals).values(
                id=principal.id,
                name=principal.name,
                kind=principal.kind,
                role=principal.role.value,
                party_code=principal.party,
                active=principal.active,
                created_at=principal.created_at,
                created_by=principal.created_by,
                person=principal.person,
            )
        )

    def get_principal(self, principal_id: str) -> PrincipalRecord | None:
        row = self._connection.execute(
            select(t.principals).where(t.principals.c.id == principal_id)
        ).first()
        return None if row is None else _principal(row)

    def list_principals(self, after: str, limit: int) -> list[PrincipalRecord]:
        query = select(t.principals).where(t.principals.c.id > after)
        rows = self._connection.execute(query.order_by(t.principals.c.id).limit(limit))
        return [_principal(row) for row in rows]

    def set_active(self, principal_id: str, active: bool) -> None:
        self._connection.execute(
            update(t.principals).where(t.principals.c.id == principal_id).values(active=active)
        )

    def count_principals(self, role: Role) -> int:
        query = select(func.count()).where(t.principals.c.role == role.value)
        return int(self._connection.execute(query).scalar_one())

    def roles_of_person(self, person: str) -> set[Role]:
        """The roles of every active principal of this person."""
        query = select(t.principals.c.role).where(
            t.principals.c.person == person, t.principals.c.active.is_(True)
        )
        return {Role(role) for role in self._connection.execute(query).scalars()}

    def add_token(self, token: StoredToken) -> None:
        self._connection.execute(
            insert(t.api_tokens).values(
                id=token.id,
                principal_id=token.principal_id,
                secret_hash=token.secret_hash,
                description=token.description,
                created_at=token.created_at,
                expires_at=token.expires_at,
                revoked_at=token.revoked_at,
            )
        )

    def get_token(self, token_id: str) -> StoredToken | None:
        row = self._connection.execute(
            select(t.api_tokens).where(t.api_tokens.c.id == token_id)
        ).first()
        return None if row is None else _token(row)

    def tokens_of(self, principal_id: str) -> list[StoredToken]:
        query = select(t.api_tokens).where(t.api_tokens.c.principal_id == principal_id)
        return [_token(row) for row in self._connection.execute(query.order_by(t.api_tokens.c.id))]

    def city_of(self, party: str) -> str | None:
        return self._connection.execute(
            select(t.parties.c.city).where(t.parties.c.code == party)
        ).scalar()

    def revoke_token(self, token_id: str, at: datetime) -> None:
        self._connection.execute(
            update(t.api_tokens)
            .where(t.api_tokens.c.id == token_id, t.api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    # -- four-eyes requests -------------------------------------------------------------------

    def add_request(self, request: ApprovalRequest) -> None:
        self._connection.execute(
            insert(t.approval_requests).values(
                id=request.id,
                operation=request.operation,
                payload=dict(request.payload),
                authority=request.authority,
                initiator=request.initiator,
                initiator_person=request.initiator_person,
                state=request.state.value,
                created_at=request.created_at,
                expires_at=request.expires_at,
            )
        )

    def get_request(self, request_id: str, *, lock: bool = False) -> ApprovalRequest | None:
        query = select(t.approval_requests).where(t.approval_requests.c.id == request_id)
        row = self._connection.execute(query.with_for_update() if lock else query).first()
        return None if row is None else _request(row)

    def decide(  # noqa: PLR0917 - one row's decision
        self,
        request_id: str,
        state: RequestState,
        decided_by: tuple[str, str] | None,
        at: datetime,
        result: Mapping[str, Any] | None,
        reason: str | None,
    ) -> bool:
        """Move a pending request to `state`, decided by (principal, person); False if it was
        no longer pending."""
        outcome = self._connection.execute(
            update(t.approval_requests)
            .where(
                t.approval_requests.c.id == request_id,
                t.approval_requests.c.state == RequestState.PENDING.value,
            )
            .values(
                state=state.value,
                decided_by=None if decided_by is None else decided_by[0],
                decided_by_person=None if decided_by is None else decided_by[1],
                decided_at=at,
                result=None if result is None else dict(result),
                reason=reason,
            )
        )
        return outcome.rowcount == 1

    def expire_requests(self, now: datetime) -> int:
        """Every pending request past its deadline, expired in one statement; how many."""
        outcome = self._connection.execute(
            update(t.approval_requests)
            .where(
                t.approval_requests.c.state == RequestState.PENDING.value,
                t.approval_requests.c.expires_at <= now,
            )
            .values(state=RequestState.EXPIRED.value, decided_at=now, reason="expired")
        )
        return outcome.rowcount

    def withdraw_requests(self, initiator: str, at: datetime) -> int:
        """Every pending request of `initiator`, withdrawn (it was deactivated); how many."""
        outcome = self._connection.execute(
            update(t.approval_requests)
            .where(
                t.approval_requests.c.state == RequestState.PENDING.value,
                t.approval_requests.c.initiator == initiator,
            )
            .values(state=RequestState.WITHDRAWN.value, decided_at=at, reason="withdrawn")
        )
        return outcome.rowcount

    # -- enrolments ---------------------------------------------------------------------------

    def add_enrolment(self, enrolment: Enrolment) -> None:
        self._connection.execute(
            insert(t.enrolments).values(
                id=enrolment.id,
                principal_id=enrolment.principal_id,
                code_hash=enrolment.code_hash,
                requested_by=enrolment.requested_by,
                approved_by=enrolment.approved_by,
                created_at=enrolment.created_at,
                expires_at=enrolment.expires_at,
            )
        )

    def open_enrolments(self, principal_id: str, now: datetime) -> list[Enrolment]:
        """The principal's enrolments neither redeemed nor expired, locked."""
        query = (
            select(t.enrolments)
            .where(
                t.enrolments.c.principal_id == principal_id,
                t.enrolments.c.redeemed_at.is_(None),
                t.enrolments.c.expires_at > now,
            )
            .with_for_update()
        )
        return [Enrolment(**row._asdict()) for row in self._connection.execute(query)]

    def redeem_enrolment(self, enrolment_id: str, at: datetime) -> bool:
        """Mark an enrolment redeemed; False if it already was (exactly once)."""
        outcome = self._connection.execute(
            update(t.enrolments)
            .where(t.enrolments.c.id == enrolment_id, t.enrolments.c.redeemed_at.is_(None))
            .values(redeemed_at=at)
        )
        return outcome.rowcount == 1

    def list_requests(
        self, state: RequestState | None, authority: str | None, after: str, limit: int
    ) -> list[ApprovalRequest]:
        query = select(t.approval_requests).where(t.approval_requests.c.id > after)
        if state is not None:
            query = query.where(t.approval_requests.c.state == state.value)
        if authority is not None:
            query = query.where(t.approval_requests.c.authority == authority)
        rows = self._connection.execute(query.order_by(t.approval_requests.c.id).limit(limit))
        return [_request(row) for row in rows]

    # -- audit log ------------------------------------------------------------------------------

    def append_audit(self, records: Sequence[AuditRecord]) -> None:
        rows = [_audit_row(record) for record in records]
        if self._deferred is not None:
            self._deferred.extend(rows)
        elif rows and self._sqlite:
            # On the driver's cursor: SQLAlchemy's statement took ~80 µs, the insert ~15.
            sqlite_write_path.insert_audit(self._driver_cursor(), rows)
        elif rows:
            self._connection.execute(insert(t.audit_log), rows)

    def _driver_cursor(self) -> Any:
        return self._connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def deferred_audit(self) -> list[dict[str, Any]]:
        """The audit lines waiting for the commit, handed over once."""
        rows = self._deferred or []
        if self._deferred is not None:
            self._deferred = []
        return rows

    def list_audit(self, principal_id: str | None, after: int, limit: int) -> list[AuditRecord]:
        query = select(t.audit_log).where(t.audit_log.c.seq > after)
        if principal_id is not None:
            query = query.where(t.audit_log.c.principal_id == principal_id)
        rows = self._connection.execute(query.order_by(t.audit_log.c.seq).limit(limit))
        return [
            AuditRecord(
                at=row.at,
                principal_id=row.principal_id,
                token_id=row.token_id,
                action=row.action,
                target=row.target,
                outcome=row.outcome,
                status=row.status,
                code=row.code,
                seq=row.seq,
                request_id=row.request_id,
            )
            for row in rows
        ]


def _principal(row: Row[Any]) -> PrincipalRecord:
    return PrincipalRecord(
        id=row.id,
        name=row.name,
        kind=row.kind,
        role=Role(row.role),
        party=row.party_code,
        active=row.active,
        created_at=row.created_at,
        created_by=row.created_by,
        person=row.person,
    )


def _token(row: Row[Any]) -> StoredToken:
    return StoredToken(
        id=row.id,
        principal_id=row.principal_id,
        description=row.description,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        secret_hash=row.secret_hash,
    )


def _request(row: Row[Any]) -> ApprovalRequest:
    return ApprovalRequest(
        id=row.id,
        operation=row.operation,
        payload=row.payload,
        authority=row.authority,
        initiator=row.initiator,
        initiator_person=row.initiator_person,
        state=RequestState(row.state),
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        result=row.result,
        reason=row.reason,
    )


def _audit_row(record: AuditRecord) -> dict[str, Any]:
    return {
        "at": record.at,
        "principal_id": record.principal_id,
        "token_id": record.token_id,
        "action": record.action[:120],
        "target": record.target[:400],
        "outcome": record.outcome,
        "status": record.status,
        "code": record.code,
        "request_id": record.request_id,
    }
