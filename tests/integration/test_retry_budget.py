"""The retry budget (docs/decisions/retries-have-a-time-budget.md): a transaction that loses a
race is retried whole until the budget is spent, and its first retry is taken whatever the time,
so a first attempt slowed past the budget (a loaded server) is not refused for it."""

from __future__ import annotations

import pytest

from ledger.domain.errors import RetryableConflict
from ledger.domain.ports import UnitOfWork
from ledger.persistence.store import Store
from ledger.services import transactions


def test_a_first_attempt_slower_than_the_budget_is_still_retried(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transactions, "RETRY_SECONDS_MAX", 0.0)  # spent before attempt 1 ends
    attempts: list[int] = []

    def work(_: UnitOfWork) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise RetryableConflict("balance rows missing: created on the retry")
        return "done"

    assert transactions.in_transaction(store, work) == "done"
    assert len(attempts) == 2


def test_a_spent_budget_ends_the_retries_after_the_first(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transactions, "RETRY_SECONDS_MAX", 0.0)
    attempts: list[int] = []

    def work(_: UnitOfWork) -> None:
        attempts.append(1)
        raise RetryableConflict("always losing")

    with pytest.raises(RetryableConflict):
        transactions.in_transaction(store, work)
    assert len(attempts) == 2
