"""An operation's id names its journal entries: reusing it is a replay of the same request or a
409, never a database error."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.domain.errors import RecordExists
from ledger.domain.registry import Obligation
from ledger.persistence.store import Store
from ledger.services import compliance, queries, rights
from tests.factories import actor
from tests.integration.registry_support import after_deadline, build_registry, fingerprint, of


@pytest.fixture
def built(store: Store) -> Store:
    build_registry(store)
    return store


def test_a_deposit_id_used_again_is_a_replay_or_refused_and_changes_nothing(built: Store) -> None:
    regulator = of(built, "HEBEI")
    rights.deposit_cash(built, regulator, "D1", "E1", 100_00)

    # The same deposit again: a client's retry.
    assert rights.deposit_cash(built, regulator, "D1", "E1", 100_00).replayed
    with pytest.raises(RecordExists):
        rights.deposit_cash(built, regulator, "D1", "E1", 200_00)

    balance = queries.get_balance(built, actor(built), "E1:cash", "CNY", None, "recorded").balance
    assert balance.credits_posted - balance.debits_posted == 1_000_000_00 + 100_00


def test_a_surrender_retried_answers_what_it_surrendered_and_another_under_its_id_is_409(
    built: Store,
) -> None:
    regulator, e1 = of(built, "HEBEI"), of(built, "E1")
    for year, units in ((2025, 300), (2026, 900)):
        rights.issue_carbon(
            built, regulator, f"E1-{year}", party_code="E1", family="CEA", year=year, units=units
        )
    for obligation_id in ("O1", "O2"):
        compliance.set_obligation(
            built, regulator, Obligation(obligation_id, "E1", 2026, 1_000, date(2027, 12, 31))
        )
    request = compliance.SurrenderRequest("S1", "O1", 500)
    first = compliance.surrender(built, e1, request)
    before = fingerprint(built)

    again = compliance.surrender(built, e1, request)  # the same request: a client's retry

    assert (first.replayed, again.replayed) == (False, True)
    assert again.record == first.record
    assert [(s.instrument_code, s.units) for s in again.record] == [
        ("CEA-2025", 300),
        ("CEA-2026", 200),
    ]
    for other in (
        compliance.SurrenderRequest("S1", "O1", 501),
        compliance.SurrenderRequest("S1", "O1", 500, "CEA-2026"),
        compliance.SurrenderRequest("S1", "O2", 500),
    ):
        with pytest.raises(RecordExists):
            compliance.surrender(built, e1, other)
    assert fingerprint(built) == before


def test_an_obligation_set_again_is_a_replay_even_after_its_deadline_closed_it(
    built: Store,
) -> None:
    regulator = of(built, "HEBEI")
    obligation = Obligation("O1", "E1", 2026, 1_000, date(2027, 12, 31))
    compliance.set_obligation(built, regulator, obligation)
    after_deadline(built)
    compliance.close_deadline(built, regulator, "O1", 9_800)

    again = compliance.set_obligation(built, regulator, obligation)

    assert again.replayed
    assert again.record.closed
    with pytest.raises(RecordExists):
        compliance.set_obligation(
            built, regulator, Obligation("O1", "E1", 2026, 999, date(2027, 12, 31))
        )
