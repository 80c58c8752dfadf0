"""An operation's id names its journal entries: reusing it is a replay of the same request or a
409, never a database error."""

from __future__ import annotations

import pytest

from ledger.domain.errors import RecordExists
from ledger.domain.registry import Party, PartyKind
from ledger.persistence.store import Store
from ledger.services import parties, queries, rights
from tests.factories import actor


def test_a_deposit_id_used_again_is_a_replay_or_refused_and_changes_nothing(store: Store) -> None:
    parties.register_party(store, Party("HEBEI", PartyKind.AUTHORITY, "Hebei"))
    parties.register_party(store, Party("EXCHANGE", PartyKind.EXCHANGE, "Exchange"))
    parties.register_party(store, Party("E1", PartyKind.ENTERPRISE, "E1", city="Tangshan"))
    rights.deposit_cash(store, "D1", "E1", 100_00)

    rights.deposit_cash(store, "D1", "E1", 100_00)  # the same deposit again: a client's retry
    with pytest.raises(RecordExists):
        rights.deposit_cash(store, "D1", "E1", 200_00)

    balance = queries.get_balance(store, actor(store), "E1:cash", "CNY", None, "recorded").balance
    assert balance.credits_posted - balance.debits_posted == 100_00
