"""`journal.write_in`: resolving a hold and posting new entries inside the caller's unit of work,
all or nothing."""

from __future__ import annotations

import pytest

from ledger.domain.errors import LedgerError
from ledger.persistence.store import Store
from ledger.services import journal, queries
from ledger.services.transactions import in_transaction
from tests.factories import actor, setup_registry, transfer


def held(store: Store, account: str) -> tuple[int, int]:
    balance = queries.get_balance(store, actor(store), account, "SO2-2026").balance
    return balance.posted, balance.debits_pending


@pytest.fixture
def holding(store: Store) -> Store:
    setup_registry(store, "A", "B")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "A", "10"))
    journal.post_entry(store, transfer("hold", "A", "B", "4", pending=True))
    return store


def test_a_hold_is_posted_and_a_new_entry_written_in_one_transaction(holding: Store) -> None:
    records = in_transaction(
        holding,
        lambda uow: journal.write_in(
            uow,
            [transfer("more", "A", "B", "1")],
            resolve=journal.ResolvePending("hold", "hold-posted"),
        ),
    )

    assert [r.entry_id for r in records] == ["hold-posted", "more"]
    assert held(holding, "A") == (5_000, 0)
    assert held(holding, "B") == (5_000, 0)


def test_a_refused_new_entry_leaves_the_hold_unresolved(holding: Store) -> None:
    with pytest.raises(LedgerError) as caught:
        in_transaction(
            holding,
            lambda uow: journal.write_in(
                uow,
                [transfer("too-much", "A", "B", "7")],
                resolve=journal.ResolvePending("hold", "hold-posted"),
            ),
        )

    assert caught.value.code == "insufficient_balance"
    assert held(holding, "A") == (10_000, 4_000)
    assert queries.get_entry(holding, actor(holding), "hold").state == "pending"


def test_a_hold_is_voided_in_the_callers_transaction(holding: Store) -> None:
    in_transaction(
        holding,
        lambda uow: journal.write_in(
            uow, resolve=journal.ResolvePending("hold", "hold-voided"), void=True
        ),
    )

    assert held(holding, "A") == (10_000, 0)
    assert queries.get_entry(holding, actor(holding), "hold").state == "voided"
