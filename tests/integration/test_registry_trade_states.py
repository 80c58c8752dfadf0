"""The trade workflow's state machine: every legal path, and every illegal transition refused
with `trade_state_invalid` while the ledger stays unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from ledger.domain.errors import LedgerError
from ledger.domain.registry import TRANSITIONS, TradeAction, TradeState
from ledger.persistence.store import Store
from ledger.services import queries, trading
from tests.factories import actor
from tests.integration.registry_support import build_registry, fingerprint, of, so2_trade

PAST = datetime(2026, 1, 1, tzinfo=UTC)
ACTIONS: dict[TradeAction, Callable[[Store, str], object]] = {
    TradeAction.ACCEPT: lambda s, t: trading.accept(s, of(s, "E2"), t),
    TradeAction.DECLINE: lambda s, t: trading.decline(s, of(s, "E2"), t),
    TradeAction.RESCIND: lambda s, t: trading.rescind(s, of(s, "E1"), t),
    TradeAction.RECORD: lambda s, t: trading.record(s, of(s, "HEBEI"), t),
    TradeAction.REFUSE: lambda s, t: trading.refuse(s, of(s, "HEBEI"), t),
    TradeAction.EXPIRE: lambda s, t: trading.expire(s, of(s, "HEBEI"), t),
}
PATHS: dict[TradeState, tuple[TradeAction, ...]] = {
    TradeState.PROPOSED: (),
    TradeState.ACCEPTED: (TradeAction.ACCEPT,),
    TradeState.SETTLED: (TradeAction.ACCEPT, TradeAction.RECORD),
    TradeState.DECLINED: (TradeAction.DECLINE,),
    TradeState.RESCINDED: (TradeAction.ACCEPT, TradeAction.RESCIND),
    TradeState.REFUSED: (TradeAction.ACCEPT, TradeAction.REFUSE),
    TradeState.EXPIRED: (TradeAction.ACCEPT, TradeAction.EXPIRE),
}
# An action by a party (not the sweeper) repeated on the state it led to is a retry, answered
# without change (see the test below), not an illegal transition.
RETRIES = {(target, action) for action, (_, target) in TRANSITIONS.items()} - {
    (TradeState.EXPIRED, TradeAction.EXPIRE)
}
ILLEGAL = [
    (state, action)
    for state in TradeState
    for action, (allowed, _) in TRANSITIONS.items()
    if state not in allowed and (state, action) not in RETRIES
]


def reach(store: Store, state: TradeState) -> str:
    """A trade of E1 to E2 (deadline already past) driven into `state`."""
    build_registry(store)
    trade = trading.propose(store, of(store, "E1"), so2_trade(expires_at=PAST)).record.id
    for action in PATHS[state]:
        ACTIONS[action](store, trade)
    return trade


@pytest.mark.parametrize("state", list(TradeState), ids=lambda s: s.value)
def test_every_state_is_reachable_and_holds_rights_only_while_accepted(
    store: Store, state: TradeState
) -> None:
    trade = reach(store, state)

    assert trading.get_trade(store, of(store, "HEBEI"), trade)[0].state is state
    held = queries.get_balance(store, actor(store), "E1:holdings", "SO2-2026").balance
    assert held.debits_pending == (10_000 if state is TradeState.ACCEPTED else 0)
    moved = 10_000 if state is TradeState.SETTLED else 0
    assert held.posted == 100_000 - moved


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=lambda x: getattr(x, "value", str(x)))
def test_every_illegal_transition_is_trade_state_invalid_and_changes_nothing(
    store: Store, state: TradeState, action: TradeAction
) -> None:
    trade = reach(store, state)
    before = fingerprint(store)

    with pytest.raises(LedgerError) as caught:
        ACTIONS[action](store, trade)

    assert caught.value.code == "trade_state_invalid"
    assert fingerprint(store) == before


@pytest.mark.parametrize(
    ("state", "action"), sorted(RETRIES, key=str), ids=lambda x: getattr(x, "value", str(x))
)
def test_a_retried_action_by_the_same_party_answers_with_the_trade_and_changes_nothing(
    store: Store, state: TradeState, action: TradeAction
) -> None:
    trade = reach(store, state)
    before = fingerprint(store)
    history = trading.get_trade(store, of(store, "HEBEI"), trade)[1]

    ACTIONS[action](store, trade)

    assert fingerprint(store) == before
    assert trading.get_trade(store, of(store, "HEBEI"), trade)[1] == history


def test_the_same_action_by_another_party_is_still_refused(store: Store) -> None:
    trade = reach(store, TradeState.REFUSED)

    with pytest.raises(LedgerError) as caught:
        trading.refuse(store, of(store, "TANGSHAN"), trade)

    assert caught.value.code == "trade_state_invalid"


def test_a_trade_not_yet_past_its_deadline_cannot_expire(store: Store) -> None:
    build_registry(store)
    trade = trading.propose(store, of(store, "E1"), so2_trade()).record.id

    with pytest.raises(LedgerError) as caught:
        trading.expire(store, of(store, "HEBEI"), trade)
    assert caught.value.code == "trade_state_invalid"


def test_the_history_of_a_trade_lists_every_state_it_entered(store: Store) -> None:
    trade = reach(store, TradeState.SETTLED)

    events = trading.get_trade(store, of(store, "HEBEI"), trade)[1]

    assert [(e.state, e.actor) for e in events] == [
        (TradeState.PROPOSED, "E1"),
        (TradeState.ACCEPTED, "E2"),
        (TradeState.SETTLED, "HEBEI"),
    ]


def test_the_sweep_expires_trades_past_their_deadline_and_releases_their_holds(
    store: Store,
) -> None:
    build_registry(store)
    seller = of(store, "E1")
    trading.propose(store, seller, so2_trade("LATE", expires_at=PAST))
    trading.accept(store, of(store, "E2"), "LATE")
    trading.propose(store, seller, so2_trade("OPEN"))

    assert trading.expire_due(store) == ["LATE"]
    assert trading.get_trade(store, seller, "LATE")[0].state is TradeState.EXPIRED
    assert trading.get_trade(store, seller, "OPEN")[0].state is TradeState.PROPOSED
    held = queries.get_balance(store, actor(store), "E1:holdings", "SO2-2026").balance
    assert (held.posted, held.debits_pending) == (100_000, 0)
    assert trading.expire_due(store) == []
