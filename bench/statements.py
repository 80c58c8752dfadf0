"""SQL statements per step of the trade workflow (propose, accept, record) and of a plain transfer,
through the services, on both databases: a count, not a timing, so it means the same on a busy
machine as on a quiet one.

    .venv/bin/python -m bench.statements [--database sqlite|postgresql|both] [--rounds 3]
                                         [--verbose] [--output FILE] [--timeline]

Per database, a fresh database is seeded as `bench.load` seeds it (`bench.live.seed`: the demo's
parties and rights, funded holder accounts, a principal per role). One trade of each pair of
`bench.load.TRADE_PAIRS` and one transfer run first, uncounted (they create the balance rows a
pair's first trade finds missing, and fill the store's caches); then `--rounds` rounds each run a
transfer (a regulator's, between two holders, as `POST /v1/entries` does) and a trade proposed by
its seller, accepted by its buyer and recorded by the regulator, and count what each step sends.

A statement is one `execute` or `executemany` on a driver cursor: SQLAlchemy's (counted with its
`before_cursor_execute` event) and the write path's, which go to the driver directly
(`postgresql_write_path`, `sqlite_write_path`; counted by a cursor class given to the driver).
Transaction control (BEGIN, COMMIT) and a new connection's PRAGMAs are not counted; the use
case's transactions are, beside. The figure printed is the largest of the rounds; `--verbose`
lists each step's statements. Each step's median wall time over the rounds is printed too (one
thread, nothing else running in this process: with `--rounds 30` or so, a comparison of two
versions of the code run one after the other). With `--timeline`, instead, the counted rounds
run on PostgreSQL with `bench.timeline` timing each locked write's statements: the table
`bench.load --timeline` prints under load, here for one thread with nothing else running.
`make bench-smoke` runs both, so they cannot rot.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, event

from bench.config import DEFAULT_POSTGRES_URL
from bench.databases import fresh_database
from bench.live import TRANSFER_INSTRUMENT, enterprise_principal, seed
from bench.load import TRADE_PAIRS
from bench.timeline import TITLE, Timeline, install
from bench.timeline import report as report_timeline
from ledger.domain.access import Actor
from ledger.domain.accounts import Side
from ledger.domain.entries import PostingRequest
from ledger.domain.registry import Trade
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import access, adjustments, trading
from ledger.services.journal import PostEntry

STEPS = ("transfer", "propose", "accept", "record")
TRADE_DAY = date(2026, 1, 15)  # the load mix's trade date
PRICE_FEN = 620_000  # 6,200 CNY/t
_BEGIN = re.compile(r"\s*BEGIN\b", re.IGNORECASE)
_NOT_COUNTED = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b", re.IGNORECASE)


@dataclass
class Tally:
    """What one step sent: every statement (its text, whitespace folded), how many of them went
    through SQLAlchemy, and how many transactions it began."""

    statements: list[str] = field(default_factory=list)
    through_sqlalchemy: int = 0
    transactions: int = 0
    seconds: float = 0.0  # the step's wall time, counting included

    @property
    def count(self) -> int:
        return len(self.statements)


class StatementCounter:
    """Counts the statements an engine's connections send while `counting()` is open.

    Attach it before the engine's first connection (or dispose the engine's pool after): the
    count of every statement needs the driver's cursors to be the counting ones below."""

    def __init__(self, engine: Engine) -> None:
        self._tally: Tally | None = None
        sqlite = engine.dialect.name == "sqlite"
        event.listen(engine, "do_connect", self._sqlite_connect if sqlite else self._pg_connect)
        event.listen(engine, "before_cursor_execute", self._through_sqlalchemy)
        # SQLite's units of work begin on the driver (SQLAlchemy's begin, when it comes, adds no
        # BEGIN): count its BEGINs. PostgreSQL's driver begins implicitly: count SQLAlchemy's.
        self._count_begin_statements = sqlite
        if not sqlite:
            event.listen(engine, "begin", self._begun)
        # Connections made before this one have plain cursors (a store's SQLite writers' kept
        # connection too: it is closed at the next write's turn).
        engine.dispose()

    @contextmanager
    def counting(self) -> Iterator[Tally]:
        tally = Tally()
        self._tally = tally
        try:
            yield tally
        finally:
            self._tally = None

    def note(self, statement: object) -> None:
        """A driver cursor runs `statement`."""
        text = statement.decode() if isinstance(statement, bytes) else str(statement)
        if self._tally is None:
            return
        if not _NOT_COUNTED.match(text):
            self._tally.statements.append(" ".join(text.split()))
        elif self._count_begin_statements and _BEGIN.match(text):
            self._tally.transactions += 1

    def _through_sqlalchemy(self, *args: Any) -> None:
        statement: str = args[2]
        if self._tally is not None and not _NOT_COUNTED.match(statement):
            self._tally.through_sqlalchemy += 1

    def _begun(self, _connection: object) -> None:
        if self._tally is not None:
            self._tally.transactions += 1

    def _pg_connect(self, _dialect: object, _record: object, _args: object, params: Any) -> None:
        params["cursor_factory"] = _psycopg_cursor(self.note)

    def _sqlite_connect(
        self, _dialect: object, _record: object, _args: object, params: Any
    ) -> None:
        params["factory"] = _sqlite_connection(self.note)


def _psycopg_cursor(note: Callable[[object], None]) -> type[psycopg.Cursor[Any]]:
    class CountingCursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            note(query)
            return super().execute(query, *args, **kwargs)

        def executemany(self, query: Any, *args: Any, **kwargs: Any) -> None:
            note(query)
            super().executemany(query, *args, **kwargs)

    return CountingCursor


def _sqlite_connection(note: Callable[[object], None]) -> type[sqlite3.Connection]:
    class CountingCursor(sqlite3.Cursor):
        def execute(self, sql: str, *args: Any) -> Any:
            note(sql)
            return super().execute(sql, *args)

        def executemany(self, sql: str, *args: Any) -> Any:
            note(sql)
            return super().executemany(sql, *args)

    class CountingConnection(sqlite3.Connection):
        def cursor(self, factory: Any = None) -> Any:
            return super().cursor(factory or CountingCursor)

        def execute(self, sql: str, *args: Any) -> Any:  # its cursor is not `cursor()`'s
            note(sql)
            return super().execute(sql, *args)

    return CountingConnection


# -- the steps ---------------------------------------------------------------------------------


@dataclass
class Cast:
    """The actors the steps act as, and the holders a transfer moves between."""

    actors: dict[str, Actor]
    holders: tuple[str, ...]

    def of(self, principal: str) -> Actor:
        return self.actors[principal]


def _cast(store: Store, tokens: dict[str, str], holders: tuple[str, ...]) -> Cast:
    actors = {
        key: Actor(access.authenticate(store, token), target="bench.statements")
        for key, token in tokens.items()
    }
    return Cast(actors, holders)


def transfer(store: Store, cast: Cast, entry_id: str) -> None:
    """A regulator's transfer between two holders (`POST /v1/entries`, as in `bench.load`)."""
    amount = TRANSFER_INSTRUMENT.to_amount(1)
    code = TRANSFER_INSTRUMENT.code
    postings = (
        PostingRequest(cast.holders[0], code, Side.DEBIT, amount),
        PostingRequest(cast.holders[1], code, Side.CREDIT, amount),
    )
    adjustments.post_entry(
        store, cast.of("load-regulator"), PostEntry(entry_id, "transfer", postings)
    )


def trade_steps(
    store: Store, cast: Cast, trade_id: str, seller: str, buyer: str
) -> dict[str, Callable[[], object]]:
    """The three steps of one trade, in order: 0.001 t of SO2 a year at 6,200 CNY/t."""
    trade = Trade(trade_id, seller, buyer, seller, "SO2", 1, PRICE_FEN, None, None, TRADE_DAY)
    return {
        "propose": lambda: trading.propose(store, cast.of(enterprise_principal(seller)), trade),
        "accept": lambda: trading.accept(store, cast.of(enterprise_principal(buyer)), trade_id),
        "record": lambda: trading.record(store, cast.of("load-regulator"), trade_id),
    }


def measure(
    store: Store, cast: Cast, rounds: int, counting: Callable[[], object] = lambda: None
) -> dict[str, list[Tally]]:
    """Every step's tally in each round, after one uncounted trade per pair and transfer
    (`counting` is called between the two)."""
    for number, (seller, buyer) in enumerate(TRADE_PAIRS):
        transfer(store, cast, f"warm-{number}")
        for step in trade_steps(store, cast, f"warm-{number}", seller, buyer).values():
            step()
    counting()
    counter = StatementCounter(store.engine)
    tallies: dict[str, list[Tally]] = {step: [] for step in STEPS}
    for number in range(rounds):
        seller, buyer = TRADE_PAIRS[number % len(TRADE_PAIRS)]
        steps: dict[str, Callable[[], object]] = {
            "transfer": partial(transfer, store, cast, f"count-{number}"),
            **trade_steps(store, cast, f"count-{number}", seller, buyer),
        }
        for name, step in steps.items():
            with counter.counting() as tally:
                began = time.perf_counter()
                step()
                tally.seconds = time.perf_counter() - began
            tallies[name].append(tally)
    return tallies


def count_database(
    backend: str, postgres_url: str, rounds: int, counting: Callable[[], object] = lambda: None
) -> dict[str, list[Tally]]:
    with fresh_database(backend, "statements", postgres_url) as target:
        seeded = seed(target.url, holders=2)
        store = Store(create_ledger_engine(target.url, sqlite_synchronous="NORMAL"))
        try:
            return measure(store, _cast(store, seeded.tokens, seeded.holders), rounds, counting)
        finally:
            store.dispose()


def timed_alone(postgres_url: str, rounds: int) -> list[str]:
    """`bench.timeline`'s table for the counted rounds on PostgreSQL, one thread: where a locked
    write's time goes with nothing else running, beside `bench.load --timeline`'s under load."""
    with tempfile.TemporaryDirectory(prefix="ledger_timeline_") as directory:
        timeline = Timeline(Path(directory))
        install(timeline)
        count_database("postgresql", postgres_url, rounds, timeline.marker.touch)
        return report_timeline(timeline.totals)


# -- the report --------------------------------------------------------------------------------


def _cell(tallies: Sequence[Tally]) -> str:
    worst = max(tallies, key=lambda t: t.count)
    spread = "" if min(t.count for t in tallies) == worst.count else "*"
    return f"{worst.count}{spread} ({worst.through_sqlalchemy}) in {worst.transactions} tx"


def report(results: dict[str, dict[str, list[Tally]]], verbose: bool) -> list[str]:
    databases = list(results)
    lines = [
        "statements per step, through the services (in brackets: of them through SQLAlchemy;"
        " tx: transactions; * the rounds differed, the largest shown)",
        f"{'step':10}" + "".join(f"{name:>26}" for name in databases),
    ]
    for step in STEPS:
        lines.append(f"{step:10}" + "".join(f"{_cell(results[d][step]):>26}" for d in databases))
    lines += [
        "",
        "median milliseconds per step, one thread (the machine's load shows here, not above)",
        f"{'step':10}" + "".join(f"{name:>26}" for name in databases),
    ]
    for step in STEPS:
        medians = [statistics.median(t.seconds for t in results[d][step]) for d in databases]
        lines.append(f"{step:10}" + "".join(f"{1000 * m:>26.1f}" for m in medians))
    if verbose:
        for database in databases:
            for step in STEPS:
                worst = max(results[database][step], key=lambda t: t.count)
                lines.append(f"\n{database} {step}: {worst.count} statements")
                lines += [
                    f"  {number:2}. {text[:150]}" for number, text in enumerate(worst.statements, 1)
                ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.statements",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3, help="counted trades and transfers")
    parser.add_argument("--verbose", action="store_true", help="list each step's statements")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("LEDGER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    parser.add_argument("--output", help="also write the report to this file")
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="instead: time each locked write's statements on PostgreSQL (`bench.timeline`)",
    )
    arguments = parser.parse_args(argv)
    if arguments.timeline:
        lines = [f"{TITLE}, one thread:"]
        print("\n".join(lines + timed_alone(arguments.postgres_url, arguments.rounds)))
        return 0
    databases = ("postgresql", "sqlite") if arguments.database == "both" else (arguments.database,)
    results = {
        database: count_database(database, arguments.postgres_url, arguments.rounds)
        for database in databases
    }
    lines = report(results, arguments.verbose)
    print("\n".join(lines))
    if arguments.output:
        Path(arguments.output).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
