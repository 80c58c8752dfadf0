"""One helper for the unit tests: run a call that the ledger must refuse and return the refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.domain.errors import LedgerError


def refusal(call: Callable[[], object]) -> LedgerError:
    """The `LedgerError` that `call` raises (the test fails if it raises nothing)."""
    with pytest.raises(LedgerError) as caught:
        call()
    return caught.value


def accepted(call: Callable[[], object]) -> bool:
    """Whether `call` passes the ledger's rules (returns without raising a `LedgerError`)."""
    try:
        call()
    except LedgerError:
        return False
    return True
