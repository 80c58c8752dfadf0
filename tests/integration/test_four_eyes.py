"""Four-eyes in the core: whoever calls, an operation that needs a second person waits for one.

Approvers racing on one request apply it exactly once (PostgreSQL, real threads: the decision is
a conditional UPDATE in the effect's transaction); the same person under two principals, a
forged approval, or a deactivated initiator's request never applies; requests expire.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from ledger.domain.access import (
    FOUR_EYES_DEFAULT,
    Actor,
    Approval,
    ApprovalRequest,
    Pending,
    RequestState,
    Role,
)
from ledger.domain.errors import LedgerError
from ledger.persistence.store import Store
from ledger.services import access, adjustments, approvals, journal, queries
from tests.factories import actor, setup_registry
from tests.factories import transfer as factory_transfer


@pytest.fixture
def gated(store: Store) -> Store:
    """A store with the default four-eyes policy, and ALPHA holding 10 t."""
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, factory_transfer("fund", "ISSUANCE", "ALPHA", "10"))
    store.four_eyes = FOUR_EYES_DEFAULT
    return store


def _reversal(store: Store, who: Actor, entry_id: str = "undo") -> Pending:
    asked = adjustments.reverse_entry(store, who, journal.ReverseEntry("fund", entry_id))
    assert isinstance(asked, Pending)
    return asked


def test_racing_approvers_apply_a_request_exactly_once(postgres_store: Store) -> None:
    setup_registry(postgres_store, "ALPHA")
    journal.post_entry(postgres_store, factory_transfer("fund", "ISSUANCE", "ALPHA", "10"))
    postgres_store.four_eyes = FOUR_EYES_DEFAULT
    initiator, *approvers = [
        actor(postgres_store, Role.REGULATOR, principal=f"reg-{n}") for n in range(5)
    ]
    pending = _reversal(postgres_store, initiator)
    outcomes: list[str] = []

    def approve(approver: Actor) -> None:
        try:
            decided = approvals.approve(postgres_store, approver, pending.request.id)
            outcomes.append(decided.state.value)
        except LedgerError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=approve, args=(a,)) for a in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["applied"] + ["approval_already_decided"] * 3
    assert queries.get_entry(postgres_store, initiator, "fund").reversed_by == "undo"


def test_a_retried_request_answers_the_same_pending_request(gated: Store) -> None:
    initiator = actor(gated, Role.REGULATOR, principal="reg-a")

    first, again = _reversal(gated, initiator), _reversal(gated, initiator)

    assert first.request.id == again.request.id
    with gated(read_only=True) as uow:
        assert len(uow.access.list_requests(RequestState.PENDING, None, "", 10)) == 1


def test_the_same_person_under_another_principal_may_not_approve(gated: Store) -> None:
    initiator = actor(gated, Role.REGULATOR, principal="reg-a", person="staff-7")
    same_person = actor(gated, Role.REGULATOR, principal="reg-a-bis", person="staff-7")
    pending = _reversal(gated, initiator)

    with pytest.raises(LedgerError) as refused:
        approvals.approve(gated, same_person, pending.request.id)

    assert refused.value.code == "self_approval"
    assert queries.get_entry(gated, initiator, "fund").reversed_by is None


def test_an_approval_carried_by_a_forged_actor_changes_nothing(gated: Store) -> None:
    initiator = actor(gated, Role.REGULATOR, principal="reg-a")
    pending = _reversal(gated, initiator)
    # An in-process caller that makes up an approval for another payload: the gate compares
    # it with the stored, pending request and refuses.
    forged = replace(initiator, approval=Approval(pending.request.id, "reg-b"))

    with pytest.raises(LedgerError) as refused:
        adjustments.reverse_entry(gated, forged, journal.ReverseEntry("fund", "undo-2"))

    assert refused.value.code == "invalid_field"
    assert queries.get_entry(gated, initiator, "fund").reversed_by is None


def test_a_deactivated_initiator_s_pending_requests_are_withdrawn(gated: Store) -> None:
    initiator = actor(gated, Role.REGULATOR, principal="reg-a")
    approver = actor(gated, Role.REGULATOR, principal="reg-b")
    admin = actor(gated, Role.ADMINISTRATOR, principal="admin")
    pending = _reversal(gated, initiator)

    access.deactivate(gated, admin, "reg-a")

    with pytest.raises(LedgerError) as refused:
        approvals.approve(gated, approver, pending.request.id)
    assert refused.value.code == "approval_already_decided"
    assert approvals.get(gated, approver, pending.request.id).state is RequestState.WITHDRAWN


def test_the_sweep_marks_requests_past_their_deadline_expired(gated: Store) -> None:
    initiator = actor(gated, Role.REGULATOR, principal="reg-a")
    pending = _reversal(gated, initiator)
    gated.clock = lambda: pending.request.expires_at + timedelta(seconds=1)

    expired = approvals.expire_due(gated)

    viewer = actor(gated, Role.REGULATOR, principal="reg-b")
    state = approvals.get(gated, viewer, pending.request.id).state
    assert (expired, state) == (1, RequestState.EXPIRED)


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
        initiator_person="reg-a",
    )
