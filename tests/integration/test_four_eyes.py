"""Four-eyes under concurrency: approvers racing on one request apply it exactly once
(PostgreSQL, real threads; the decision is a conditional UPDATE in the effect's transaction)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import api.four_eyes  # noqa: F401 - registers the operations approvals can carry out

from ledger.domain.access import ApprovalRequest, Principal, RequestState, Role
from ledger.domain.errors import LedgerError
from ledger.persistence.store import Store
from ledger.services import access, approvals, journal, queries
from tests.factories import setup_registry
from tests.factories import transfer as factory_transfer


def test_racing_approvers_apply_a_request_exactly_once(postgres_store: Store) -> None:
    setup_registry(postgres_store, "ALPHA")
    journal.post_entry(postgres_store, factory_transfer("fund", "ISSUANCE", "ALPHA", "10"))
    people = [f"reg-{n}" for n in range(5)]
    for person in people:
        access.create_principal(
            postgres_store, access.NewPrincipal(person, person, Role.REGULATOR), None
        )
    initiator, *approvers = [
        Principal(person, person, Role.REGULATOR, None, None) for person in people
    ]
    pending = approvals.request(
        postgres_store,
        initiator,
        "reversal",
        {"entry_id": "fund", "body": {"entry_id": "undo"}},
    )
    outcomes: list[str] = []

    def approve(approver: Principal) -> None:
        try:
            outcomes.append(approvals.approve(postgres_store, pending.id, approver).state.value)
        except LedgerError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=approve, args=(a,)) for a in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["applied"] + ["approval_already_decided"] * 3
    assert queries.get_entry(postgres_store, "fund").reversed_by == "undo"


def test_the_sweep_marks_requests_past_their_deadline_expired(store: Store) -> None:
    access.create_principal(store, access.NewPrincipal("reg-a", "a", Role.REGULATOR), None)
    initiator = Principal("reg-a", "a", Role.REGULATOR, None, None)
    pending = approvals.request(store, initiator, "reversal", {"entry_id": "x", "body": {}})
    store.clock = lambda: pending.expires_at + timedelta(seconds=1)

    expired = approvals.expire_due(store)

    viewer = Principal("reg-b", "b", Role.REGULATOR, None, None)
    assert (expired, approvals.get(store, pending.id, viewer).state.value) == (1, "expired")


def test_the_sweep_expires_every_request_past_its_deadline_however_many_are_pending(
    store: Store,
) -> None:
    # Pending requests beyond the first page (ids are random) are expired too, and those still
    # within their deadline are left pending.
    now = store.clock()
    with store() as uow:
        for number in range(1_001):
            uow.access.add_request(_request(f"req-{number:05d}", now - timedelta(days=4)))
        uow.access.add_request(_request("req-fresh", now))
        uow.commit()

    assert approvals.expire_due(store) == 1_001
    with store(read_only=True) as uow:
        left = uow.access.list_requests(RequestState.PENDING, None, "", 10)
    assert [r.id for r in left] == ["req-fresh"]


def _request(request_id: str, created_at: datetime) -> ApprovalRequest:
    return ApprovalRequest(
        request_id,
        "reversal",
        {"entry_id": "x", "body": {}},
        "HEBEI",
        "reg-a",
        RequestState.PENDING,
        created_at,
        created_at + timedelta(days=3),
    )
