"""Where a write's locked time goes under load, on PostgreSQL: the API of `api.main` with the
driver's statements timed, for `bench.load --timeline`.

    .venv/bin/python -m bench.load --database postgresql --scenarios trades --timeline

A write holds its balances' row locks from its `LOCK` (`postgresql_write_path`) to its commit;
every other write of those balances queues meanwhile. In each server process this module times,
for every transaction that locks balances: how long its first `LOCK` took (mostly the wait for
rows another write holds), then for each statement after it the client's time before sending it
(Python: checks, rows built) and the statement's own (round trip, the database's work, a later
lock's wait), and the whole span from the lock's answer to the commit's. Transactions are grouped
by their audit line's action (`trades.accept`, `entries.post`, ...); one that rolls back is not
counted, nor one committed before `bench.load` ends its warm-up (it then creates the file
`MEASURING` in the directory). Each process adds to `timeline-<pid>.json` in the directory
`LEDGER_BENCH_TIMELINE_DIR` names every `FLUSH_EVERY` transactions and when its lifespan ends (a
graceful shutdown); `merge` and `report` turn those files into the table `bench.load` prints
after a run. `bench.statements --timeline` uses `Timeline` and `install` in its own process.

The timing patches `psycopg.Cursor` and `psycopg.Connection` in the processes that ask for it (the
servers of `bench.timeline:app`, `bench.statements --timeline`); it costs a few microseconds a
statement, paid by every write alike.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ledger.persistence import postgresql_write_path as write_path

DIRECTORY_VARIABLE = "LEDGER_BENCH_TIMELINE_DIR"
MEASURING = "measuring"  # created in the directory when the measured seconds begin
FLUSH_EVERY = 50  # transactions between a process's writes of its file
NAMES = {
    write_path.LOCK: "lock balances",
    write_path.WRITE: "write (balances, entries, postings)",
    write_path.AUDIT: "audit line (sent with the commit)",
    write_path.CREATE_BALANCES: "create missing balances",
}
FIRST_LOCK = "wait for and take the first lock"
HELD = "held: first lock's answer to commit's"
TITLE = "mean ms per transaction, from its first lock on"  # the table's, wherever printed


def label(query: object) -> str:
    """A statement's name in the table: the write path's own by name, others by their start."""
    if isinstance(query, str) and query in NAMES:
        return NAMES[query]
    return " ".join(str(query).split())[:44]


# -- totals (pure: merged across processes by `bench.load`) -------------------------------------


@dataclass
class Step:
    """One statement's place in an action's transactions: how often, the client's time before
    it and its own time (seconds, summed), and its positions summed (to order the table)."""

    count: int = 0
    before: float = 0.0
    own: float = 0.0
    position: int = 0


@dataclass
class Action:
    """The timed transactions of one action: how many, the first lock's time, the held span and
    each later statement by name."""

    count: int = 0
    first_lock: float = 0.0
    held: float = 0.0
    steps: dict[str, Step] = field(default_factory=dict)


Event = tuple[str, float, float]  # statement name, sent, answered (perf_counter seconds)


def add(totals: dict[str, Action], action: str, events: Sequence[Event]) -> None:
    """Add one committed transaction's statements (in order, the commit last) to `totals`."""
    first = next((i for i, e in enumerate(events) if e[0] == NAMES[write_path.LOCK]), None)
    if first is None:
        return  # it locked no balance
    kept = totals.setdefault(action, Action())
    kept.count += 1
    kept.first_lock += events[first][2] - events[first][1]
    kept.held += events[-1][2] - events[first][2]
    previous = events[first][2]
    for position, (name, sent, answered) in enumerate(events[first + 1 :], start=1):
        step = kept.steps.setdefault(name, Step())
        step.count += 1
        step.before += sent - previous
        step.own += answered - sent
        step.position += position
        previous = answered


def merge(files: Iterable[Path]) -> dict[str, Action]:
    """The processes' totals added up."""
    totals: dict[str, Action] = {}
    for path in files:
        for action, data in json.loads(path.read_text()).items():
            kept = totals.setdefault(action, Action())
            kept.count += data["count"]
            kept.first_lock += data["first_lock"]
            kept.held += data["held"]
            for name, values in data["steps"].items():
                step = kept.steps.setdefault(name, Step())
                step.count += values["count"]
                step.before += values["before"]
                step.own += values["own"]
                step.position += values["position"]
    return totals


def report(totals: dict[str, Action]) -> list[str]:
    """Mean milliseconds per transaction, per action."""
    lines = [f"{'action / statement after the first lock':58} {'n':>6} {'before':>8} {'own':>8}"]
    for action, kept in sorted(totals.items()):
        lines.append(f"{action:58} {kept.count:>6}")
        lines.append(
            f"  {FIRST_LOCK:56} {kept.count:>6} {'':>8} {_ms(kept.first_lock, kept.count)}"
        )
        ordered = sorted(kept.steps.items(), key=lambda item: item[1].position / item[1].count)
        for name, step in ordered:
            lines.append(
                f"  {name:56} {step.count:>6} {_ms(step.before, step.count)} "
                f"{_ms(step.own, step.count)}"
            )
        lines.append(f"  {HELD:56} {kept.count:>6} {'':>8} {_ms(kept.held, kept.count)}")
    return lines


def _ms(seconds: float, count: int) -> str:
    return f"{1000 * seconds / count:8.2f}"


# -- the timing, in a server process ------------------------------------------------------------


class Timeline:
    """One server process's timing: each thread's statements since its last commit or rollback,
    and the totals of the committed ones."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"timeline-{os.getpid()}.json"
        self.marker = directory / MEASURING
        self.measuring = False
        self.totals: dict[str, Action] = {}
        self.local = threading.local()
        self.lock = threading.Lock()
        self.unsaved = 0

    def statement(self, query: object, params: object, sent: float) -> None:
        events = self._events()
        events.append((label(query), sent, time.perf_counter()))
        if query is write_path.AUDIT and isinstance(params, Sequence) and params:
            self.local.action = params[0]["action"]

    def end(self, committed: bool, sent: float) -> None:
        events = self._events()
        events.append(("commit" if committed else "rollback", sent, time.perf_counter()))
        action = getattr(self.local, "action", None)
        self.local.events, self.local.action = [], None
        if not committed or action is None or not self._measuring():
            return
        with self.lock:
            add(self.totals, action, events)
            self.unsaved += 1
            if self.unsaved >= FLUSH_EVERY:
                self._save()

    def _measuring(self) -> bool:
        self.measuring = self.measuring or self.marker.exists()
        return self.measuring

    def save(self) -> None:
        with self.lock:
            self._save()

    def _save(self) -> None:
        data = {
            action: {
                "count": kept.count,
                "first_lock": kept.first_lock,
                "held": kept.held,
                "steps": {name: vars(step) for name, step in kept.steps.items()},
            }
            for action, kept in self.totals.items()
        }
        self.path.write_text(json.dumps(data))
        self.unsaved = 0

    def _events(self) -> list[Event]:
        events: list[Event] | None = getattr(self.local, "events", None)
        if events is None:
            events = self.local.events = []
        return events


def install(timeline: Timeline) -> None:
    """Time every statement, commit and rollback of psycopg's cursors and connections."""
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany
    commit, rollback = psycopg.Connection.commit, psycopg.Connection.rollback

    def timed(run: Callable[..., Any]) -> Callable[..., Any]:
        def call(cursor: Any, query: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            sent = time.perf_counter()
            answer = run(cursor, query, params, *args, **kwargs)
            timeline.statement(query, params, sent)
            return answer

        return call

    def ending(run: Callable[[Any], None], committed: bool) -> Callable[[Any], None]:
        def call(connection: Any) -> None:
            sent = time.perf_counter()
            run(connection)
            timeline.end(committed, sent)

        return call

    psycopg.Cursor.execute = timed(execute)  # type: ignore[method-assign]
    psycopg.Cursor.executemany = timed(executemany)  # type: ignore[method-assign]
    psycopg.Connection.commit = ending(commit, True)  # type: ignore[method-assign,assignment]
    psycopg.Connection.rollback = ending(rollback, False)  # type: ignore[method-assign,assignment]


def saving_at_shutdown(inner: Any, timeline: Timeline) -> Any:
    """`inner`, saving the timeline as its lifespan ends (a server's graceful shutdown)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return await inner(scope, receive, send)  # type: ignore[no-any-return]

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                timeline.save()
            await send(message)

        return await inner(scope, receive, sending)  # type: ignore[no-any-return]

    return app


@functools.cache
def _app() -> Any:
    from api.main import app  # noqa: PLC0415 - only a server builds it, not `bench.load`

    directory = os.environ.get(DIRECTORY_VARIABLE)
    if not directory:
        return app
    timeline = Timeline(Path(directory))
    install(timeline)
    return saving_at_shutdown(app, timeline)


def __getattr__(name: str) -> Any:
    """`bench.timeline:app`, built when the server asks for it."""
    if name == "app":
        return _app()
    raise AttributeError(name)
