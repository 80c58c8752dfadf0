"""Who else is loading the machine while we measure.

The benchmark shares its 2 cores and its PostgreSQL server with whoever else works here (test
suites, other benchmarks). `Neighbours` samples, in a background thread during one run, the
number of active PostgreSQL client backends outside the benchmark's own databases; a high
figure means that run's absolute numbers (less so its ratio, thanks to interleaving) are low.
"""

from __future__ import annotations

import threading
from types import TracebackType

import psycopg

_FOREIGN_ACTIVE = (
    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    " AND datname NOT LIKE 'ledger_bench_%'"
)


class Neighbours:
    """Mean number of foreign active PostgreSQL backends over a run (None if unknown)."""

    def __init__(self, conninfo: str | None, interval: float = 0.25) -> None:
        self._conninfo = conninfo
        self._interval = interval
        self._samples: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        assert self._conninfo is not None
        try:
            with psycopg.connect(self._conninfo, autocommit=True) as connection:
                while not self._stop.is_set():
                    row = connection.execute(_FOREIGN_ACTIVE).fetchone()
                    self._samples.append(int(row[0]) if row else 0)
                    self._stop.wait(self._interval)
        except psycopg.Error:
            return  # monitoring is best effort

    def __enter__(self) -> Neighbours:
        if self._conninfo is not None:
            self._thread = threading.Thread(target=self._sample, name="bench-monitor", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def mean(self) -> float | None:
        return sum(self._samples) / len(self._samples) if self._samples else None
