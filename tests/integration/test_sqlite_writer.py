"""SQLite's writers queue on a file lock beside the database, across processes as well as threads.

Two server processes on one SQLite file used to meet in SQLite's busy handler, which sleeps and
polls; `SqliteWriter` makes the second writer wait in the kernel for the first one's release.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import threading
import time
from pathlib import Path

from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import SqliteWriter, Store

HOLD_SECONDS = 0.3


def _descriptor(writer: SqliteWriter) -> int:
    file = writer._opened()
    assert file is not None
    return file


def _try(writer: SqliteWriter, results: multiprocessing.Queue[str]) -> None:
    """In another process: whether `writer`'s lock can be taken right now."""
    try:
        fcntl.flock(_descriptor(writer), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        results.put("busy")
    else:
        results.put("taken")


def _other_process_says(path: str, *, forked_writer: SqliteWriter | None = None) -> str:
    """`_try` in a forked child, with a writer of its own on `path` or one it inherits (its
    open file included)."""
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[str] = context.Queue()
    child = context.Process(target=_try, args=(forked_writer or SqliteWriter(path), results))
    child.start()
    child.join(30)
    return results.get(timeout=5)


def test_a_held_writer_lock_excludes_other_processes(tmp_path: Path) -> None:
    database = str(tmp_path / "ledger.db")
    writer = SqliteWriter(database)
    writer.acquire()
    try:
        assert _other_process_says(database) == "busy"
    finally:
        writer.release()
    assert _other_process_says(database) == "taken"
    writer.close()


def test_a_forked_child_does_not_share_its_parents_hold(tmp_path: Path) -> None:
    """flock belongs to an open file: a child using its parent's descriptor would get the lock
    while the parent holds it. The writer opens its own in each process."""
    writer = SqliteWriter(str(tmp_path / "ledger.db"))
    writer.acquire()
    try:
        assert _other_process_says("", forked_writer=writer) == "busy"
    finally:
        writer.release()
        writer.close()


def test_a_unit_of_work_waits_for_another_stores_write(tmp_path: Path) -> None:
    """Two stores on one file are two processes' stores: the second one's write begins only
    once the first one's lock is let go, and then goes through."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    first, second = (Store(create_ledger_engine(url)) for _ in range(2))
    holding = threading.Event()

    def hold() -> None:
        with first():
            holding.set()
            time.sleep(HOLD_SECONDS)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    began = time.perf_counter()
    with second() as unit:
        waited = time.perf_counter() - began
        unit.commit()
    holder.join()
    assert waited >= HOLD_SECONDS * 0.8
    first.dispose()
    second.dispose()


def test_writes_go_on_when_the_lock_file_cannot_be_opened(tmp_path: Path) -> None:
    """Another user's lock file, say: the process queues its own writers, SQLite's busy handler
    the processes, and nothing is refused."""
    (tmp_path / "ledger.db.writer-lock").mkdir()  # a directory cannot be opened as the lock
    store = Store(create_ledger_engine(f"sqlite:///{tmp_path / 'ledger.db'}"))
    for _ in range(2):
        with store() as unit:
            unit.commit()
    store.dispose()
