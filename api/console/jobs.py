"""Long work of the console (a CEMS import, an export) runs in a thread of its own while the
browser watches its progress on a page that refreshes itself (`<meta http-equiv="refresh">`: no
JavaScript needed): rows done out of the total, once the total is known. A job belongs to the
principal that started it; only it sees the job and downloads what it made. Jobs live in the
process that runs them (the sessions are in the database; a job is not: another worker answers
its pages 404), and are forgotten an hour after they end, with their files.

An export's file is kept in a spooled temporary file (8 MiB in memory, then on disk, as the
API's XLSX; `docs/decisions/exports-stream-xlsx-spills-to-disk.md`), so a job's memory stays
bounded whatever the report's size; a file on disk is unnamed, gone when it is closed.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

KEPT_SECONDS = 3600.0
SPOOL_BYTES = 8 * 1024 * 1024  # a file larger than this is kept on disk
CHUNK_BYTES = 64 * 1024
Report = Callable[[int], None]  # rows done so far


@dataclass
class Kept:
    """A finished export's file: its name, media type and bytes (read by offset under a lock,
    so two downloads of it at once each get the whole file)."""

    name: str
    media_type: str
    content: IO[bytes]
    size: int
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def chunks(self) -> Iterator[bytes]:
        offset = 0
        while offset < self.size:
            with self._lock:
                if self.content.closed:  # forgotten meanwhile: the download stops short
                    return
                self.content.seek(offset)
                chunk = self.content.read(CHUNK_BYTES)
            if not chunk:
                return
            offset += len(chunk)
            yield chunk

    def close(self) -> None:
        with self._lock:
            self.content.close()


def spool() -> IO[bytes]:
    """Where an export writes its file: memory up to `SPOOL_BYTES`, then an unnamed file."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


# A principal's jobs running at once: each holds a thread and a file, so one person (or a stolen
# session) cannot fill the server with them; the rate limits count requests, not running work.
RUNNING_MAX = 2


class Busy(Exception):
    """The principal already runs `RUNNING_MAX` jobs."""


@dataclass
class Job:
    """One piece of long work: how far it is, how it ended, and what it made."""

    id: str
    principal_id: str
    what: str
    total: int | None  # None until the work knows how many rows it has
    kind: str = "import"  # or "export"
    done: int = 0
    outcome: str | None = None  # set when it ends
    failed: bool = False
    ended_at: float | None = None
    file: Kept | None = None  # an export's, once it has succeeded

    @property
    def percent(self) -> int:
        if self.outcome is not None:
            return 100
        if not self.total:
            return 0
        return min(99, self.done * 100 // self.total)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def report(self, done: int) -> None:
        self.done = done


@dataclass
class Jobs:
    """The process's jobs, by id."""

    _jobs: dict[str, Job] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(
        self,
        principal_id: str,
        what: str,
        total: int | None,
        work: Callable[[Job], tuple[bool, str]],
        kind: str = "import",
    ) -> Job:
        """Run `work` in a thread; it reports rows done (`job.report`), may set the total, and
        answers (failed, outcome). `Busy` if the principal already runs `RUNNING_MAX` jobs."""
        job = Job(secrets.token_urlsafe(12), principal_id, what, total, kind)
        with self._lock:
            self._forget_old()
            if self.running(principal_id) >= RUNNING_MAX:
                raise Busy
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.failed, job.outcome = work(job)
            except Exception as error:
                job.failed, job.outcome = True, f"{type(error).__name__}: {error}"
            if not job.failed:
                job.total = max(job.total or 0, job.done)
            job.ended_at = time.monotonic()

        threading.Thread(target=run, name=f"console-job-{job.id}", daemon=True).start()
        return job

    def running(self, principal_id: str) -> int:
        """How many of the principal's jobs have not ended (the caller holds the lock)."""
        return sum(
            1 for job in self._jobs.values() if job.principal_id == principal_id and not job.ended
        )

    def of(self, principal_id: str, job_id: str) -> Job | None:
        """The principal's job of that id (another's is None, like a missing or forgotten one)."""
        with self._lock:
            self._forget_old()
            job = self._jobs.get(job_id)
        return job if job is not None and job.principal_id == principal_id else None

    def close(self) -> None:
        """Forget every job and close its file (the server is stopping)."""
        with self._lock:
            for job in self._jobs.values():
                if job.file is not None:
                    job.file.close()
            self._jobs.clear()

    def _forget_old(self) -> None:
        now = time.monotonic()
        for key in [
            k for k, j in self._jobs.items() if j.ended_at and now - j.ended_at > KEPT_SECONDS
        ]:
            forgotten = self._jobs.pop(key)
            if forgotten.file is not None:
                forgotten.file.close()
