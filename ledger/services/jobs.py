"""The web console's jobs, shared by every worker of a server through the database.

The worker that starts a job runs it in a thread of its own and writes what it does here: the
job when it starts (`start_job`, which refuses one past the principal's running jobs, counted
over every worker), its progress every second or so (`record_progress`), and how it ended with
an export's file in chunks (`finish_job`). Any worker then reads them (`find_job`,
`file_chunks`). A job belongs to the principal that started it: another principal's reads find
nothing. Jobs are forgotten an hour after they end (`ledger.domain.jobs.KEPT`): hidden from then
on, deleted by the sweeper (`forget_ended`).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping
from typing import IO

from ledger.domain.jobs import CHUNK_BYTES, KEPT, SILENT_MAX, StoredJob
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.services.transactions import in_transaction, read

SERVER_STOPPED = "server_stopped: the server stopped before this job ended"


def start_job(  # noqa: PLR0917 - one job's description
    uow_factory: UnitOfWorkFactory,
    job_id: str,
    principal_id: str,
    kind: str,
    what: str,
    total: int | None,
    running_max: int,
) -> bool:
    """Record a job as running, unless the principal already runs `running_max` (on any
    worker: the count and the insert are one transaction, the principal's row locked); whether
    it was recorded."""

    def work(uow: UnitOfWork) -> bool:
        now = uow.now()
        if uow.jobs.running_of(principal_id, now - SILENT_MAX) >= running_max:
            return False
        uow.jobs.add(StoredJob(job_id, principal_id, kind, what, total, 0, now, now))
        return True

    return in_transaction(uow_factory, work)


def record_progress(
    uow_factory: UnitOfWorkFactory, progress: Mapping[str, tuple[int, int | None]]
) -> None:
    """Rows done (and the total, once known) of running jobs, by id; also says their worker is
    alive."""

    def work(uow: UnitOfWork) -> None:
        now = uow.now()
        for job_id, (done, total) in progress.items():
            uow.jobs.progress(job_id, done, total, now)

    in_transaction(uow_factory, work)


def finish_job(  # noqa: PLR0917 - how one job ended
    uow_factory: UnitOfWorkFactory,
    job_id: str,
    failed: bool,
    outcome: str,
    done: int,
    total: int | None,
    file: tuple[str, IO[bytes]] | None = None,
) -> None:
    """Record how the job ended, with an export's file ((media type, content read from its
    start)) stored in chunks, all in one transaction: a reader sees the job running, or ended
    with its whole file."""

    def work(uow: UnitOfWork) -> None:
        media_type, size = None, None
        if file is not None:
            media_type, content = file
            content.seek(0)
            size = 0
            for seq, chunk in enumerate(iter(lambda: content.read(CHUNK_BYTES), b"")):
                uow.jobs.add_chunk(job_id, seq, chunk)
                size += len(chunk)
        uow.jobs.end(job_id, failed, outcome, done, total, uow.now(), media_type, size)

    in_transaction(uow_factory, work)


def abandon_jobs(uow_factory: UnitOfWorkFactory, job_ids: list[str]) -> None:
    """End running jobs as failed: their worker is stopping (their threads go with it)."""

    def work(uow: UnitOfWork) -> None:
        for job_id in job_ids:
            uow.jobs.end(job_id, True, SERVER_STOPPED, 0, None, uow.now(), None, None)

    if job_ids:
        in_transaction(uow_factory, work)


def find_job(uow_factory: UnitOfWorkFactory, principal_id: str, job_id: str) -> StoredJob | None:
    """The principal's job of that id as it is now; another's, a missing or a forgotten one is
    None alike."""

    def work(uow: UnitOfWork) -> StoredJob | None:
        found = uow.jobs.get(job_id)
        if found is None or found.principal_id != principal_id:
            return None
        return found.seen_at(uow.now())

    return read(uow_factory, work)


def file_chunks(uow_factory: UnitOfWorkFactory, job_id: str) -> Iterator[bytes]:
    """An export's file, a chunk at a time (a read each: memory stays bounded whatever its
    size); it stops short if the job is forgotten meanwhile."""
    for seq in itertools.count():
        chunk = read(uow_factory, functools.partial(_chunk, job_id=job_id, seq=seq))
        if chunk is None:
            return
        yield chunk


def _chunk(uow: UnitOfWork, *, job_id: str, seq: int) -> bytes | None:
    return uow.jobs.chunk(job_id, seq)


def forget_ended(uow_factory: UnitOfWorkFactory) -> int:
    """Delete the jobs ended more than an hour ago (and those whose worker was lost as long),
    with their files (the sweeper's task); how many."""

    def work(uow: UnitOfWork) -> int:
        now = uow.now()
        return uow.jobs.remove_ended(now - KEPT, now - SILENT_MAX - KEPT)

    return in_transaction(uow_factory, work)
