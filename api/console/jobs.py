"""Long work of the console (a CEMS import) runs in a thread of its own while the browser
watches its progress on a page that refreshes itself (`<meta http-equiv="refresh">`: no
JavaScript needed). A job belongs to the principal that started it; only it sees the job.
Jobs live in the process, like the sessions, and are forgotten an hour after they end.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

KEPT_SECONDS = 3600.0
Report = Callable[[int], None]  # rows done so far


@dataclass
class Job:
    """One piece of long work: how far it is, and how it ended."""

    id: str
    principal_id: str
    what: str
    total: int
    done: int = 0
    outcome: str | None = None  # set when it ends
    failed: bool = False
    ended_at: float | None = None

    @property
    def percent(self) -> int:
        return 100 if self.outcome is not None else min(99, self.done * 100 // max(self.total, 1))


@dataclass
class Jobs:
    """The process's jobs, by id."""

    _jobs: dict[str, Job] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(
        self, principal_id: str, what: str, total: int, work: Callable[[Report], tuple[bool, str]]
    ) -> Job:
        """Run `work` in a thread; it reports rows done, and answers (failed, outcome)."""
        job = Job(secrets.token_urlsafe(12), principal_id, what, total)
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job

        def run() -> None:
            def report(done: int) -> None:
                job.done = done

            try:
                job.failed, job.outcome = work(report)
            except Exception as error:
                job.failed, job.outcome = True, f"{type(error).__name__}: {error}"
            job.ended_at = time.monotonic()

        threading.Thread(target=run, name=f"console-job-{job.id}", daemon=True).start()
        return job

    def of(self, principal_id: str, job_id: str) -> Job | None:
        """The principal's job of that id (another's is None, like a missing one)."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.principal_id == principal_id else None

    def _forget_old(self) -> None:
        now = time.monotonic()
        for key in [
            k for k, j in self._jobs.items() if j.ended_at and now - j.ended_at > KEPT_SECONDS
        ]:
            del self._jobs[key]
