"""The web console's long work (a CEMS import, an export) as every worker of a server sees it.

A job runs in a thread of the worker that started it; its state (owner, kind, progress, how it
ended) and an export's file are kept in the database, so that any worker answers its progress
page and its download. A job belongs to the principal that started it, and is forgotten an hour
after it ends (`KEPT`). A worker that dies takes its running jobs with it: one whose worker has
not written for `SILENT_MAX` is shown as ended (and no longer counts as running).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

KEPT = timedelta(hours=1)
# A running job's worker writes its progress at least every `BEAT` (`api.console.jobs`): a job
# silent for much longer has lost its worker. Generous: on SQLite a CEMS import holds the one
# write lock throughout, and its worker writes only once it has committed.
BEAT = timedelta(seconds=30)
SILENT_MAX = timedelta(minutes=10)
CHUNK_BYTES = 1 << 20  # an export's file is stored (and read back) a MiB at a time
KINDS = ("import", "export")
WORKER_LOST = "worker_lost: the server process running this job stopped before it ended"


@dataclass(frozen=True, slots=True)
class StoredJob:
    """One job's state, as stored."""

    id: str
    principal_id: str
    kind: str  # "import" or "export"
    what: str  # the file imported or exported
    total: int | None  # None until the work knows how many rows it has
    done: int
    started_at: datetime
    beat_at: datetime  # the last time its worker wrote
    outcome: str | None = None  # set when it ends
    failed: bool = False
    ended_at: datetime | None = None
    media_type: str | None = None  # an export's file, once it has succeeded
    size: int | None = None

    def seen_at(self, now: datetime) -> StoredJob | None:
        """The job as a reader at `now` sees it: None once forgotten; a running job whose worker
        fell silent as failed."""
        if self.ended_at is not None:
            return None if now - self.ended_at > KEPT else self
        if now - self.beat_at > SILENT_MAX:
            ended = self.beat_at + SILENT_MAX
            lost = replace(self, outcome=WORKER_LOST, failed=True, ended_at=ended)
            return None if now - ended > KEPT else lost
        return self

    @property
    def running(self) -> bool:
        return self.ended_at is None
