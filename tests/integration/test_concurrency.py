"""Real concurrent writers on PostgreSQL: 16 threads racing for the same balances and ids.

What a client may see is only the ledger's own answers: a transfer is written, or refused with a
stable code. Deadlocks and serialization failures are retried inside the ledger and never
surface; no balance ever goes below zero; the invariant check finds nothing afterwards.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TypeVar

import pytest
from sqlalchemy import text

from ledger.domain.accounts import Side
from ledger.domain.entries import PostingRequest
from ledger.domain.errors import LedgerError
from ledger.domain.ports import AccountDraft
from ledger.persistence.store import Store
from ledger.services import journal, queries, registry
from ledger.services.journal import Posted, PostEntry, ResolvePending, ReverseEntry
from tests.factories import actor, setup_registry, transfer
from tests.integration.support import (
    HOUR,
    START,
    ManualClock,
    available,
    counting_deadlocks,
    entry_count,
    posted,
)

pytestmark = pytest.mark.postgres_only

THREADS = 16
SO2 = "SO2-2026"
CEA = "CEA-2025"

T = TypeVar("T")


def race(work: Callable[[int], T], threads: int = THREADS) -> list[T]:
    """Run `work(i)` on `threads` threads released together; re-raise the first unexpected error."""
    barrier = threading.Barrier(threads)

    def start(index: int) -> T:
        barrier.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(start, index) for index in range(threads)]
        return [future.result(timeout=120) for future in futures]


def attempt(call: Callable[[], Posted], allowed: Sequence[str]) -> Posted | str:
    """The written entry, or the code of a refusal that is one of `allowed` (else it raises)."""
    try:
        return call()
    except LedgerError as error:
        if error.code not in allowed:
            raise
        return error.code


def running_balances(store: Store, account: str, instrument: str = SO2) -> list[int]:
    """Every running balance (credit-normal, in units) the account has ever had."""
    lines = queries.get_statement(store, actor(store), account, instrument, None, 1000).lines
    return [line.credits_after - line.debits_after for line in lines]


def sinks(count: int) -> list[str]:
    return [f"SINK-{index:02d}" for index in range(count)]


# -- spending one account -----------------------------------------------------------------


def test_racing_transfers_never_overdraw_a_non_negative_account(postgres_store: Store) -> None:
    store = postgres_store
    setup_registry(store, "SPENDER", *sinks(THREADS))
    journal.post_entry(store, transfer("fund", "ISSUANCE", "SPENDER", "1000"))

    def spend(thread: int) -> list[Decimal | str]:
        rng = random.Random(thread)
        outcomes: list[Decimal | str] = []
        for number in range(8):
            amount = Decimal(rng.randint(1_000, 150_000)).scaleb(-3)
            command = transfer(
                f"spend-{thread}-{number}", "SPENDER", f"SINK-{thread:02d}", str(amount)
            )
            result = attempt(
                lambda c=command: journal.post_entry(store, c),  # type: ignore[misc]
                ["insufficient_balance"],
            )
            outcomes.append(amount if isinstance(result, Posted) else result)
        return outcomes

    outcomes = [outcome for thread in race(spend) for outcome in thread]

    spent = sum((o for o in outcomes if isinstance(o, Decimal)), Decimal(0))
    refused = [o for o in outcomes if isinstance(o, str)]
    assert refused, "the race must exhaust the balance for the test to mean anything"
    assert set(refused) == {"insufficient_balance"}
    assert posted(store, "SPENDER") == Decimal(1000) - spent >= 0
    assert sum(posted(store, sink) for sink in sinks(THREADS)) == spent
    assert min(running_balances(store, "SPENDER")) >= 0
    assert queries.check_invariants(store, actor(store)) == []


# -- holds on one account ------------------------------------------------------------------


def test_racing_holds_never_reserve_more_than_the_balance_and_settle_consistently(
    postgres_store: Store,
) -> None:
    store = postgres_store
    setup_registry(store, "HOLDER", *sinks(THREADS))
    journal.post_entry(store, transfer("fund", "ISSUANCE", "HOLDER", "1000"))
    stop = threading.Event()
    seen_available: list[Decimal] = []

    def watch() -> None:
        while not stop.is_set():
            seen_available.append(available(store, "HOLDER"))

    def settle(rng: random.Random, sink: str, hold_id: str, amount: int) -> int:
        """Post all, post part of, or void a hold; the units it moved."""
        choice = rng.choice(["post", "part", "void"])
        command = ResolvePending(hold_id, f"{hold_id}-{choice}")
        if choice == "void":
            journal.void_pending_entry(store, command)
            return 0
        if choice == "part":
            amount = rng.randint(1, amount)
            command = dataclasses.replace(
                command,
                postings=(
                    PostingRequest("HOLDER", SO2, Side.DEBIT, Decimal(amount)),
                    PostingRequest(sink, SO2, Side.CREDIT, Decimal(amount)),
                ),
            )
        journal.post_pending_entry(store, command)
        return amount

    def hold_and_settle(thread: int) -> tuple[int, int]:
        rng = random.Random(1000 + thread)
        sink = f"SINK-{thread:02d}"
        open_holds: list[tuple[str, int]] = []
        moved = refused = 0
        for number in range(8):
            amount = rng.randint(1, 150)
            hold_id = f"hold-{thread}-{number}"
            result = attempt(
                lambda h=hold_id, a=amount: journal.post_entry(  # type: ignore[misc]
                    store, transfer(h, "HOLDER", sink, str(a), pending=True)
                ),
                ["insufficient_balance"],
            )
            if isinstance(result, Posted):
                open_holds.append((hold_id, amount))
            else:
                refused += 1
            if open_holds and rng.random() < 0.6:
                moved += settle(rng, sink, *open_holds.pop(rng.randrange(len(open_holds))))
        for hold_id, amount in open_holds:
            moved += settle(rng, sink, hold_id, amount)
        return moved, refused

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = race(hold_and_settle)
    finally:
        stop.set()
        watcher.join()

    moved = sum(m for m, _ in results)
    assert sum(r for _, r in results) > 0, "the race must exhaust the balance"
    assert seen_available and min(seen_available) >= 0
    assert posted(store, "HOLDER") == available(store, "HOLDER") == 1000 - moved
    balance = queries.get_balance(store, actor(store), "HOLDER", SO2).balance
    assert (balance.debits_pending, balance.credits_pending) == (0, 0)
    assert sum(posted(store, sink) for sink in sinks(THREADS)) == moved
    assert min(running_balances(store, "HOLDER")) >= 0
    assert queries.check_invariants(store, actor(store)) == []


def test_racing_posts_and_voids_of_the_same_hold_resolve_it_exactly_once(
    postgres_store: Store,
) -> None:
    store = postgres_store
    setup_registry(store, "HOLDER", "SINK")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "HOLDER", "1000"))
    for number in range(5):
        journal.post_entry(store, transfer(f"hold-{number}", "HOLDER", "SINK", "10", pending=True))

    def resolve(thread: int) -> list[str]:
        outcomes = []
        for number in range(5):
            command = ResolvePending(f"hold-{number}", f"resolve-{number}-by-{thread}")
            use = journal.post_pending_entry if thread % 2 else journal.void_pending_entry
            result = attempt(
                lambda u=use, c=command: u(store, c),  # type: ignore[misc]
                ["pending_entry_already_posted", "pending_entry_already_voided"],
            )
            outcomes.append("won" if isinstance(result, Posted) else result)
        return outcomes

    per_thread = race(resolve)

    for number in range(5):
        assert sum(outcomes[number] == "won" for outcomes in per_thread) == 1
    assert entry_count(store) == 1 + 5 + 5
    posted_holds = sum(
        queries.get_entry(store, actor(store), f"hold-{n}").state == "posted" for n in range(5)
    )
    assert posted(store, "SINK") == 10 * posted_holds
    assert available(store, "HOLDER") == posted(store, "HOLDER") == 1000 - 10 * posted_holds
    assert queries.check_invariants(store, actor(store)) == []


# -- idempotency under concurrency -------------------------------------------------------


def test_sixteen_concurrent_identical_requests_write_one_entry_and_all_get_its_seq(
    postgres_store: Store,
) -> None:
    store = postgres_store
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "ALPHA", "1000"))

    for round_ in range(5):
        command = transfer(f"same-{round_}", "ALPHA", "BETA", "7")
        before = entry_count(store)

        results = race(lambda _, c=command: journal.post_entry(store, c))  # type: ignore[misc]

        assert entry_count(store) == before + 1
        assert len({r.entry.seq for r in results}) == 1
        assert len({r.entry.recorded_at for r in results}) == 1
        assert sorted(r.replayed for r in results) == [False] + [True] * (THREADS - 1)
    assert posted(store, "BETA") == 5 * 7
    assert queries.check_invariants(store, actor(store)) == []


def test_sixteen_concurrent_identical_posts_of_a_hold_write_one_resolution(
    postgres_store: Store,
) -> None:
    store = postgres_store
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "ALPHA", "1000"))
    journal.post_entry(store, transfer("hold", "ALPHA", "BETA", "30", pending=True))
    command = ResolvePending("hold", "hold-post")

    results = race(lambda _: journal.post_pending_entry(store, command))

    assert len({r.entry.seq for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False] + [True] * (THREADS - 1)
    assert posted(store, "BETA") == 30
    assert queries.check_invariants(store, actor(store)) == []


def test_sixteen_concurrent_requests_with_one_id_and_different_bodies_write_one_of_them(
    postgres_store: Store,
) -> None:
    store = postgres_store
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "ALPHA", "1000"))

    results = race(
        lambda thread: attempt(
            lambda: journal.post_entry(
                store, transfer("contested", "ALPHA", "BETA", str(thread + 1))
            ),
            ["entry_exists_with_different_request"],
        )
    )

    winners = [r for r in results if isinstance(r, Posted)]
    assert len(winners) == 1
    assert results.count("entry_exists_with_different_request") == THREADS - 1
    assert posted(store, "BETA") == Decimal(winners[0].entry.postings[1].units).scaleb(-3)
    assert queries.check_invariants(store, actor(store)) == []


def test_two_concurrent_reversals_of_one_entry_write_exactly_one(postgres_store: Store) -> None:
    store = postgres_store
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "ALPHA", "1000"))
    originals = [f"t-{number}" for number in range(10)]
    for entry_id in originals:
        journal.post_entry(store, transfer(entry_id, "ALPHA", "BETA", "10"))

    def reverse_all(thread: int) -> list[str]:
        return [
            "won" if isinstance(result, Posted) else result
            for result in (
                attempt(
                    lambda e=entry_id: journal.reverse_entry(  # type: ignore[misc]
                        store, ReverseEntry(e, f"{e}-reversed-by-{thread}")
                    ),
                    ["entry_already_reversed"],
                )
                for entry_id in originals
            )
        ]

    first, second = race(reverse_all, threads=2)

    for one, other in zip(first, second, strict=True):
        assert {one, other} == {"won", "entry_already_reversed"}
    assert entry_count(store) == 1 + 10 + 10
    assert posted(store, "ALPHA") == 1000
    assert posted(store, "BETA") == 0
    assert queries.check_invariants(store, actor(store)) == []


# -- the deadlock shape -------------------------------------------------------------------


def test_transfers_racing_in_opposite_directions_never_surface_a_deadlock(
    postgres_store: Store,
) -> None:
    store = postgres_store
    accounts = [f"ACC-{index:02d}" for index in range(8)]
    setup_registry(store, *accounts)
    journal.post_batch(
        store, [transfer(f"fund-{code}", "ISSUANCE", code, "100") for code in accounts]
    )
    for index in range(0, len(accounts), 2):  # half start with CEA, the others get it later
        journal.post_entry(
            store, transfer(f"cea-{index}", "ISSUANCE", accounts[index], "50", instrument=CEA)
        )

    def swap(entry_id: str, left: str, right: str, rng: random.Random) -> PostEntry:
        """Delivery versus payment: SO2 one way, CEA the other, in one entry."""
        so2, cea = Decimal(rng.randint(1, 20)), Decimal(rng.randint(1, 20))
        return PostEntry(
            entry_id,
            "swap",
            (
                PostingRequest(left, SO2, Side.DEBIT, so2),
                PostingRequest(right, SO2, Side.CREDIT, so2),
                PostingRequest(right, CEA, Side.DEBIT, cea),
                PostingRequest(left, CEA, Side.CREDIT, cea),
            ),
        )

    def churn(thread: int) -> list[str]:
        rng = random.Random(2000 + thread)
        outcomes = []
        for number in range(12):
            a, b, c, d = rng.sample(accounts, 4)
            if thread % 2:  # the mirror image of the even threads' moves
                a, b, c, d = b, a, d, c
            entry_id = f"move-{thread}-{number}"
            kind = number % 3
            if kind == 0:
                call: Callable[[], Posted] = lambda e=entry_id, x=a, y=b: journal.post_entry(  # type: ignore[misc]  # noqa: E731
                    store, transfer(e, x, y, str(rng.randint(1, 30)))
                )
            elif kind == 1:
                call = lambda e=entry_id, x=a, y=b, z=c, w=d: journal.post_batch(  # type: ignore[misc]  # noqa: E731
                    store, [transfer(f"{e}-1", x, y, "3"), transfer(f"{e}-2", w, z, "2")]
                )[0]
            else:
                call = lambda e=entry_id, x=a, y=b: journal.post_entry(  # type: ignore[misc]  # noqa: E731
                    store, swap(e, x, y, rng)
                )
            result = attempt(call, ["insufficient_balance"])
            outcomes.append("written" if isinstance(result, Posted) else result)
        return outcomes

    outcomes = [o for thread in race(churn) for o in thread]

    assert set(outcomes) <= {"written", "insufficient_balance"}
    assert outcomes.count("written") > len(outcomes) // 2
    assert sum(posted(store, code) for code in accounts) == 100 * len(accounts)
    assert sum(posted(store, code, CEA) for code in accounts) == 50 * len(accounts) // 2
    assert all(posted(store, code) >= 0 and posted(store, code, CEA) >= 0 for code in accounts)
    assert queries.check_invariants(store, actor(store)) == []


def test_first_postings_racing_into_new_balances_take_their_locks_in_one_order(
    postgres_store: Store,
) -> None:
    # Every entry touches balance rows that do not exist yet for some of its postings: creating
    # them must not lock anything out of the one order all writers lock in, or two writers each
    # holding a row the other wants deadlock (retried, so counted where retried).
    store = postgres_store
    setup_registry(store)
    mints = [f"MINT-{index}" for index in range(6)]
    for code in mints:
        registry.open_account(
            store, actor(store), AccountDraft(code, "HEBEI", code, Side.DEBIT, False, None)
        )

    def move(thread: int) -> None:
        rng = random.Random(3000 + thread)
        for number in range(4):
            a, b, c, d = rng.sample(mints, 4)
            journal.post_entry(
                store,
                PostEntry(
                    f"first-{thread}-{number}",
                    "swap",
                    (
                        PostingRequest(a, SO2, Side.DEBIT, Decimal(1)),
                        PostingRequest(b, SO2, Side.CREDIT, Decimal(1)),
                        PostingRequest(c, CEA, Side.DEBIT, Decimal(1)),
                        PostingRequest(d, CEA, Side.CREDIT, Decimal(1)),
                    ),
                ),
            )

    with counting_deadlocks() as deadlocks:
        race(move)

    assert deadlocks == []
    assert entry_count(store) == THREADS * 4
    assert sum(posted(store, code) for code in mints) == 0
    assert queries.check_invariants(store, actor(store)) == []


def test_freezing_an_account_while_transfers_race_out_of_it_stops_every_later_debit(
    postgres_store: Store,
) -> None:
    store = postgres_store
    setup_registry(store, "SPENDER", "SINK")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "SPENDER", "1000"))
    frozen_at = threading.Event()

    def spend_or_freeze(thread: int) -> list[str]:
        if thread == 0:
            registry.freeze_account(store, actor(store), "SPENDER")
            frozen_at.set()
            return []
        outcomes = []
        for number in range(10):
            after_freeze = frozen_at.is_set()
            result = attempt(
                lambda n=number: journal.post_entry(  # type: ignore[misc]
                    store, transfer(f"spend-{thread}-{n}", "SPENDER", "SINK", "1")
                ),
                ["account_frozen"],
            )
            outcome = "written" if isinstance(result, Posted) else result
            if after_freeze:
                assert outcome == "account_frozen"
            outcomes.append(outcome)
        return outcomes

    outcomes = [o for thread in race(spend_or_freeze) for o in thread]

    assert posted(store, "SINK") == outcomes.count("written")
    assert queries.check_invariants(store, actor(store)) == []


# -- closing and expiring while others write ----------------------------------------------


def test_closing_an_account_while_a_transfer_races_into_it_never_leaves_value_in_it(
    postgres_store: Store,
) -> None:
    store = postgres_store
    setup_registry(store, "ALPHA")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "ALPHA", "1000"))
    closed_with_value = []
    for trial in range(20):
        code = f"NEW-{trial:02d}"  # opened, never posted to: it has no balance row yet
        registry.open_account(
            store, actor(store), AccountDraft(code, code, "new holdings", Side.CREDIT, True, None)
        )

        def close_or_pay(thread: int, code: str = code, trial: int = trial) -> str:
            try:
                if thread == 0:
                    registry.close_account(store, actor(store), code)
                    return "closed"
                journal.post_entry(store, transfer(f"pay-{trial}", "ALPHA", code, "1"))
                return "paid"
            except LedgerError as error:
                if error.code not in ("account_not_empty", "account_closed"):
                    raise
                return error.code

        race(close_or_pay, threads=2)
        if registry.get_account(store, actor(store), code).closed and posted(store, code) > 0:
            closed_with_value.append(code)

    assert closed_with_value == []


def test_a_transfer_that_waited_for_a_closing_account_is_refused_as_account_closed(
    postgres_store: Store,
) -> None:
    # What close_account does, held open: lock the account's balance rows, then set `closed`.
    # A transfer into the account queues behind the lock; once the close commits, it must
    # see the account closed rather than the flags it read before it waited.
    store = postgres_store
    setup_registry(store, "ALPHA", "GAMMA")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "ALPHA", "10"))
    journal.post_entry(store, transfer("there", "ALPHA", "GAMMA", "1"))
    journal.post_entry(store, transfer("back", "GAMMA", "ALPHA", "1"))
    gamma = registry.get_account(store, actor(store), "GAMMA").id
    outcome: list[str] = []

    with store.engine.connect() as closer:
        closer.begin()
        closer.execute(
            text("SELECT 1 FROM balances WHERE account_id = :id FOR UPDATE"), {"id": gamma}
        )

        def pay() -> None:
            result = attempt(
                lambda: journal.post_entry(store, transfer("pay", "ALPHA", "GAMMA", "1")),
                ["account_closed"],
            )
            outcome.append("written" if isinstance(result, Posted) else result)

        payer = threading.Thread(target=pay)
        payer.start()
        _wait_until_a_session_waits_for_a_lock(store)
        closer.execute(text("UPDATE accounts SET closed = TRUE WHERE id = :id"), {"id": gamma})
        closer.commit()
    payer.join(timeout=30)

    assert outcome == ["account_closed"]
    assert posted(store, "GAMMA") == 0


def _wait_until_a_session_waits_for_a_lock(store: Store) -> None:
    with store.engine.connect() as watcher:
        for _ in range(500):
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            watcher.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the transfer never queued behind the lock")


def test_racing_expiry_sweeps_expire_each_hold_exactly_once(postgres_store: Store) -> None:
    clock = ManualClock()
    store = Store(postgres_store.engine, clock=clock)
    setup_registry(store, "HOLDER", "SINK")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "HOLDER", "1000"))
    holds = [f"hold-{number:02d}" for number in range(24)]
    for hold_id in holds:
        journal.post_entry(
            store,
            dataclasses.replace(
                transfer(hold_id, "HOLDER", "SINK", "10", pending=True),
                expires_at=START + HOUR,
            ),
        )
    clock.advance(2 * HOUR)

    swept = race(lambda _: journal.expire_pending_entries(store), threads=4)

    expired = [hold_id for batch in swept for hold_id in batch]
    assert sorted(expired) == holds  # every hold once, none twice
    assert entry_count(store) == 1 + 2 * len(holds)
    assert available(store, "HOLDER") == posted(store, "HOLDER") == 1000
    assert queries.check_invariants(store, actor(store)) == []
