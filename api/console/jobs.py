"""Long work of the console (a CEMS import, an export) runs in a thread of its own while the
browser watches its progress on a page that refreshes itself (`<meta http-equiv="refresh">`: no
JavaScript needed): rows done out of the total, once the total is known. A job belongs to the
principal that started it; only it sees the job and downloads what it made.

The job runs in the worker that started it, but every worker answers its page and its download
(`emissions-ledger serve --workers N` hands each request to either): its state is written to the
database (`ledger.services.jobs`) when it starts, as it progresses (a writer thread, about once a
second; every `BEAT` at least while it runs) and when it ends, with an export's file. The worker
that runs it shows its progress live; another shows the progress last written. On SQLite a CEMS
import holds the one write lock until it commits, so another worker sees its progress only when
it ends. A job is forgotten an hour after it ends, with its file (`ledger.domain.jobs.KEPT`);
one whose worker died is shown as failed once it has been silent for ten minutes.

An export's file is written to a spooled temporary file (8 MiB in memory, then on disk, as the
API's XLSX; `docs/decisions/exports-stream-xlsx-spills-to-disk.md`), then stored in the database
a MiB a row, and downloads read it back a MiB at a time: memory stays bounded whatever its size.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from ledger.domain.jobs import BEAT, StoredJob
from ledger.domain.ports import UnitOfWorkFactory
from ledger.services import jobs as shared

log = logging.getLogger(__name__)
SPOOL_BYTES = 8 * 1024 * 1024  # a file larger than this is kept on disk while it is written
FLUSH_SECONDS = 1.0
Report = Callable[[int], None]  # rows done so far


@dataclass
class Kept:
    """A finished export's file: its name, media type and size; `content` only in the thread
    that wrote it, until it is stored."""

    name: str
    media_type: str
    size: int
    content: IO[bytes] | None = None


def spool() -> IO[bytes]:
    """Where an export writes its file: memory up to `SPOOL_BYTES`, then an unnamed file."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


# A principal's jobs running at once, over every worker: each holds a thread and a file, so one
# person (or a stolen session) cannot fill the server with them; the rate limits count requests,
# not running work.
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
    ended: bool = False
    file: Kept | None = None  # an export's, once it has succeeded

    @property
    def percent(self) -> int:
        if self.outcome is not None:
            return 100
        if not self.total:
            return 0
        return min(99, self.done * 100 // self.total)

    def report(self, done: int) -> None:
        self.done = done

    @classmethod
    def stored(cls, job: StoredJob) -> Job:
        """A job as the database has it (run by this worker or another)."""
        file = None
        if job.media_type is not None and job.size is not None:
            file = Kept(job.what, job.media_type, job.size)
        return cls(
            job.id,
            job.principal_id,
            job.what,
            job.total,
            job.kind,
            job.done,
            job.outcome,
            job.failed,
            not job.running,
            file,
        )


class Jobs:
    """The deployment's jobs; those this worker runs, by id, with their live progress."""

    def __init__(self, store: UnitOfWorkFactory) -> None:
        self.store = store
        self._running: dict[str, Job] = {}
        self._written: dict[str, tuple[int, int | None, float]] = {}  # done, total, when
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None

    def start(
        self,
        principal_id: str,
        what: str,
        total: int | None,
        work: Callable[[Job], tuple[bool, str]],
        kind: str = "import",
    ) -> Job:
        """Run `work` in a thread; it reports rows done (`job.report`), may set the total, and
        answers (failed, outcome); an export's sets `job.file`. `Busy` if the principal already
        runs `RUNNING_MAX` jobs, on any worker."""
        job = Job(secrets.token_urlsafe(12), principal_id, what, total, kind)
        if not shared.start_job(self.store, job.id, principal_id, kind, what, total, RUNNING_MAX):
            raise Busy
        with self._lock:
            self._running[job.id] = job
            self._written[job.id] = (0, total, time.monotonic())
            self._start_writer()
        threading.Thread(
            target=self._run, args=(job, work), name=f"console-job-{job.id}", daemon=True
        ).start()
        return job

    def _run(self, job: Job, work: Callable[[Job], tuple[bool, str]]) -> None:
        try:
            failed, outcome = work(job)
        except Exception as error:
            failed, outcome = True, f"{type(error).__name__}: {error}"
        total = job.total if failed else max(job.total or 0, job.done)
        kept = None if failed else job.file
        try:
            file = None
            if kept is not None and kept.content is not None:
                file = (kept.media_type, kept.content)
            shared.finish_job(self.store, job.id, failed, outcome, job.done, total, file)
        except Exception:  # the database failed: the job shows as lost once silent long enough
            log.exception("console job %s ended but could not be recorded", job.id)
        finally:
            if kept is not None and kept.content is not None:
                kept.content.close()
                kept.content = None
            with self._lock:
                self._running.pop(job.id, None)
                self._written.pop(job.id, None)

    def of(self, principal_id: str, job_id: str) -> Job | None:
        """The principal's job of that id: live if this worker runs it, else as last written
        (another principal's is None, like a missing or forgotten one)."""
        with self._lock:
            local = self._running.get(job_id)
        if local is not None and local.principal_id == principal_id:
            return local
        found = shared.find_job(self.store, principal_id, job_id)
        return None if found is None else Job.stored(found)

    def chunks(self, job_id: str) -> Iterator[bytes]:
        """An ended export's file, read from the database a chunk at a time."""
        return shared.file_chunks(self.store, job_id)

    def close(self) -> None:
        """The server is stopping: the jobs it still runs end as failed (their threads stop
        with the process)."""
        self._stop.set()
        if self._writer is not None:
            self._writer.join(timeout=5)
        with self._lock:
            self._writer, self._stop = None, threading.Event()  # a later job starts another
            left = list(self._running)
            self._running.clear()
            self._written.clear()
        try:
            shared.abandon_jobs(self.store, left)
        except Exception:
            log.exception("console jobs %s could not be ended", left)

    # -- the progress writer ----------------------------------------------------------------

    def _start_writer(self) -> None:
        """The thread writing progress (the caller holds the lock). A thread of its own: the
        job's thread may hold a transaction (a CEMS import), which SQLite would make a second
        write of the same thread wait for forever."""
        if self._writer is None and not self._stop.is_set():
            self._writer = threading.Thread(
                target=self._write_progress, name="console-jobs-progress", daemon=True
            )
            self._writer.start()

    def _write_progress(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except Exception:  # written at the next turn
                log.exception("console jobs' progress could not be written")

    def flush(self) -> None:
        """Write the progress of this worker's jobs that moved since last written, or that
        have not been written for `BEAT` (saying their worker is alive)."""
        now = time.monotonic()
        beat = BEAT.total_seconds()
        with self._lock:
            due = {
                job.id: (job.done, job.total)
                for job in self._running.values()
                if (job.done, job.total) != self._written[job.id][:2]
                or now - self._written[job.id][2] >= beat
            }
        if not due:
            return
        shared.record_progress(self.store, due)
        with self._lock:
            for job_id, (done, total) in due.items():
                if job_id in self._written:
                    self._written[job_id] = (done, total, now)
