"""Instruments and accounts as use cases: who sees which account (filtered in the query, so
every page is full or the last), the same 404 for out of scope as for unknown, creates that are
safe to retry (one after the other and at the same time), every write audited as its actor's."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.domain.access import Actor, Role
from ledger.domain.accounts import Account, Side
from ledger.domain.errors import LedgerError
from ledger.domain.pages import Created
from ledger.domain.ports import AccountDraft
from ledger.domain.registry import Party, PartyKind
from ledger.persistence.store import Store
from ledger.services import journal, queries, registry
from tests.factories import SO2, actor, setup_registry, transfer

T = TypeVar("T")

# Two enterprises and the authority of Tangshan, an enterprise in Handan, one in Xingtai; the
# province (HEBEI, no party record) holds the issuance account.
CITY_OF = {
    "E1": "Tangshan",
    "E2": "Tangshan",
    "TANGSHAN": "Tangshan",
    "E3": "Handan",
    "E4": "Xingtai",
}
ENTERPRISES = ("E1", "E2", "E3", "E4")
READERS = ("regulator", "finance", *ENTERPRISES, "tangshan")


@pytest.fixture
def parties(store: Store) -> Store:
    """setup_registry's instruments and ISSUANCE, and the parties, straight through the
    repository (how they were registered is not what these tests are about)."""
    setup_registry(store)
    with store() as uow:
        for code, city in CITY_OF.items():
            kind = PartyKind.AUTHORITY if code == "TANGSHAN" else PartyKind.ENTERPRISE
            uow.registry.add_party(Party(code, kind, code, city=city), datetime.now(UTC))
        uow.commit()
    return store


def holdings(party: str, number: int) -> AccountDraft:
    return AccountDraft(f"{party}:h{number}", party, f"{party} holdings", Side.CREDIT, True, None)


def reader(store: Store, name: str) -> Actor:
    """A reader of each kind of scope: everything, one enterprise, one city."""
    if name in ENTERPRISES:
        return actor(store, Role.ENTERPRISE, name)
    if name == "tangshan":
        return actor(store, Role.CITY_AUTHORITY, "TANGSHAN")
    return actor(store, Role.REGULATOR if name == "regulator" else Role.FINANCE)


def sees(name: str, party: str) -> bool:
    """The scope rule, restated as the oracle of the listing."""
    if name == "tangshan":
        return CITY_OF.get(party) == "Tangshan"
    return name in ("regulator", "finance") or party == name


def every_page(store: Store, who: Actor, party: str | None, limit: int) -> Iterator[list[Account]]:
    cursor = None
    while True:
        page = registry.list_accounts(store, who, party, cursor, limit)
        yield page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    owners=st.lists(st.sampled_from([*CITY_OF, "HEBEI"]), max_size=8),
    name=st.sampled_from(READERS),
    party=st.one_of(st.none(), st.sampled_from([*ENTERPRISES, "HEBEI"])),
    limit=st.integers(1, 4),
)
def test_the_pages_of_the_account_listing_are_the_filtered_full_listing(
    parties: Store, owners: list[str], name: str, party: str | None, limit: int
) -> None:
    store, regulator = parties, actor(parties)
    opened = len(registry.list_accounts(store, regulator, None, None, 1000).items)
    for owner, number in zip(owners, itertools.count(opened), strict=False):
        registry.open_account(store, regulator, holdings(owner, number))
    everything = registry.list_accounts(store, regulator, None, None, 1000).items

    pages = list(every_page(store, reader(store, name), party, limit))

    visible = [a.code for a in everything if sees(name, a.party) and party in (None, a.party)]
    assert [a.code for page in pages for a in page] == visible
    assert all(len(page) == limit for page in pages[:-1])  # every page full, but the last


def test_an_account_out_of_scope_is_not_found_exactly_like_an_unknown_one(
    parties: Store,
) -> None:
    store = parties
    registry.open_account(store, actor(store), holdings("E3", 1))
    journal.post_entry(store, transfer("fund", "ISSUANCE", "E3:h1", "5"))
    calls: dict[str, Callable[[Actor, str], object]] = {
        "account": lambda who, code: registry.get_account(store, who, code),
        "balances": lambda who, code: queries.get_balances(store, who, code),
        "balance": lambda who, code: queries.get_balance(store, who, code, SO2.code),
        "statement": lambda who, code: queries.get_statement(store, who, code, SO2.code, None, 9),
        "freeze": lambda who, code: registry.freeze_account(store, who, code),
        "unfreeze": lambda who, code: registry.unfreeze_account(store, who, code),
    }

    for name, call in calls.items():
        for who in (reader(store, "E1"), reader(store, "tangshan")):
            if name.endswith("freeze") and who.role is Role.ENTERPRISE:
                continue  # an enterprise may not freeze at all
            hidden = refusal(lambda: call(who, "E3:h1"))  # noqa: B023 - called at once
            unknown = refusal(lambda: call(who, "E9:h1"))  # noqa: B023
            assert hidden == (
                "account_not_found",
                "code",
                unknown[2].replace("E9:h1", "E3:h1"),
            ), name
    assert registry.get_account(store, actor(store), "E3:h1").frozen is False


def refusal(call: Callable[[], object]) -> tuple[str, str | None, str]:
    with pytest.raises(LedgerError) as caught:
        call()
    return caught.value.code, caught.value.field, caught.value.detail


def test_an_enterprise_reads_its_own_accounts_and_a_city_authority_its_citys(
    parties: Store,
) -> None:
    store = parties
    registry.open_account(store, actor(store), holdings("E1", 1))
    journal.post_entry(store, transfer("fund", "ISSUANCE", "E1:h1", "7"))

    for who in (reader(store, "E1"), reader(store, "tangshan")):
        statement = queries.get_statement(store, who, "E1:h1", SO2.code, None, 9)
        assert registry.get_account(store, who, "E1:h1").party == "E1"
        assert queries.get_balance(store, who, "E1:h1", SO2.code).balance.posted == 7000
        assert [line.units for line in statement.lines] == [7000]
    tangshan = reader(store, "tangshan")
    assert registry.freeze_account(store, tangshan, "E1:h1").frozen is True
    assert registry.unfreeze_account(store, tangshan, "E1:h1").frozen is False


def test_registering_or_opening_again_is_a_replay_and_another_definition_a_conflict(
    store: Store,
) -> None:
    regulator = actor(store)
    first = registry.open_account(store, regulator, holdings("E1", 1))
    made = registry.register_instrument(store, regulator, SO2)

    again = registry.register_instrument(store, regulator, SO2)
    reopened = registry.open_account(store, regulator, holdings("E1", 1))

    assert (first.replayed, made.replayed) == (False, False)
    assert (again.record, again.replayed) == (SO2, True)
    assert (reopened.record, reopened.replayed) == (first.record, True)
    rescaled = dataclasses.replace(SO2, scale=2)
    assert refusal(lambda: registry.register_instrument(store, regulator, rescaled))[0] == (
        "instrument_exists_with_different_definition"
    )
    negative = dataclasses.replace(holdings("E1", 1), non_negative=False)
    assert refusal(lambda: registry.open_account(store, regulator, negative))[0] == (
        "account_exists_with_different_definition"
    )
    assert registry.list_instruments(store, regulator) == [SO2]


def test_identical_creates_racing_each_other_make_one_record_and_replay_it(
    postgres_store: Store,
) -> None:
    # The losers' inserts wait on the winner's unique key: once it commits, they must find its
    # record and answer it as a replay, not as a conflict.
    store, regulator = postgres_store, actor(postgres_store)
    for number in range(4):
        instrument = dataclasses.replace(SO2, code=f"SO2-R{number}")
        draft = holdings("E1", number)

        made = race(lambda: registry.register_instrument(store, regulator, instrument))  # noqa: B023
        opened = race(lambda: registry.open_account(store, regulator, draft))  # noqa: B023

        assert {r.record for r in made} == {instrument}
        assert len({r.record for r in opened}) == 1
        assert [r.replayed for r in made].count(False) == 1
        assert [r.replayed for r in opened].count(False) == 1
    assert len(registry.list_accounts(store, regulator, None, None, 100).items) == 4


def race(create: Callable[[], Created[T]], threads: int = 6) -> list[Created[T]]:
    """`create()` on `threads` threads released together."""
    barrier = threading.Barrier(threads)

    def start(_: int) -> Created[T]:
        barrier.wait(timeout=30)
        return create()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(start, range(threads)))


def test_every_write_is_audited_as_its_actors_and_a_refusal_too(parties: Store) -> None:
    store = parties
    regulator, tangshan = actor(store), reader(store, "tangshan")
    since = last_audit_line(store)

    registry.open_account(store, regulator, holdings("E1", 1))
    registry.open_account(store, regulator, holdings("E1", 1))  # a replay
    registry.open_account(store, regulator, holdings("E3", 1))
    registry.freeze_account(store, tangshan, "E1:h1")
    refusal(lambda: registry.freeze_account(store, tangshan, "E3:h1"))  # out of scope
    refusal(lambda: registry.close_account(store, tangshan, "E1:h1"))  # a regulator's
    registry.get_account(store, tangshan, "E1:h1")  # reads are not audited

    assert audited(store, since) == [
        (regulator.id, "accounts.open", "ok", None),
        (regulator.id, "accounts.open", "ok", None),
        (regulator.id, "accounts.open", "ok", None),
        (tangshan.id, "accounts.freeze", "ok", None),
        (tangshan.id, "accounts.freeze", "rejected", "account_not_found"),
        (tangshan.id, "accounts.close", "denied", "forbidden"),
    ]
    assert registry.get_account(store, regulator, "E3:h1").frozen is False


def last_audit_line(store: Store) -> int:
    with store(read_only=True) as uow:
        return max((line.seq or 0 for line in uow.access.list_audit(None, 0, 10_000)), default=0)


def audited(store: Store, after: int) -> list[tuple[str | None, str, str, str | None]]:
    with store(read_only=True) as uow:
        lines = uow.access.list_audit(None, after, 100)
    return [(line.principal_id, line.action, line.outcome, line.code) for line in lines]
