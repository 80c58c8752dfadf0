"""The web console's jobs and their files over one SQLAlchemy connection (`console_jobs`,
`console_job_chunks`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row

from ledger.domain.jobs import StoredJob
from ledger.persistence import tables as t

_JOBS = t.console_jobs
_CHUNKS = t.console_job_chunks


class SqlJobRepository:
    """Jobs by id; an export's file as numbered chunks."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def running_of(self, principal_id: str, alive_since: datetime) -> int:
        # The principal's row locked (PostgreSQL; SQLite's writer is alone anyway): two workers
        # starting its jobs at once count one after the other.
        self._connection.execute(
            select(t.principals.c.id).where(t.principals.c.id == principal_id).with_for_update()
        )
        query = select(func.count()).where(
            _JOBS.c.principal_id == principal_id,
            _JOBS.c.ended_at.is_(None),
            _JOBS.c.beat_at >= alive_since,
        )
        return int(self._connection.execute(query).scalar_one())

    def add(self, job: StoredJob) -> None:
        self._connection.execute(
            insert(_JOBS).values(
                id=job.id,
                principal_id=job.principal_id,
                kind=job.kind,
                what=job.what,
                total=job.total,
                done=job.done,
                started_at=job.started_at,
                beat_at=job.beat_at,
                failed=job.failed,
            )
        )

    def get(self, job_id: str) -> StoredJob | None:
        row = self._connection.execute(select(_JOBS).where(_JOBS.c.id == job_id)).first()
        return None if row is None else _job(row)

    def progress(self, job_id: str, done: int, total: int | None, at: datetime) -> None:
        self._connection.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id, _JOBS.c.ended_at.is_(None))
            .values(done=done, total=total, beat_at=at)
        )

    def end(  # noqa: PLR0917 - how one job ended
        self,
        job_id: str,
        failed: bool,
        outcome: str,
        done: int,
        total: int | None,
        at: datetime,
        media_type: str | None,
        size: int | None,
    ) -> None:
        values: dict[str, Any] = {
            "failed": failed,
            "outcome": outcome[:2000],
            "ended_at": at,
            "beat_at": at,
            "media_type": media_type,
            "size": size,
        }
        if done or total is not None:  # an abandoned job keeps the progress it had
            values |= {"done": done, "total": total}
        self._connection.execute(
            update(_JOBS).where(_JOBS.c.id == job_id, _JOBS.c.ended_at.is_(None)).values(values)
        )

    def add_chunk(self, job_id: str, seq: int, content: bytes) -> None:
        self._connection.execute(insert(_CHUNKS).values(job_id=job_id, seq=seq, content=content))

    def chunk(self, job_id: str, seq: int) -> bytes | None:
        found = self._connection.execute(
            select(_CHUNKS.c.content).where(_CHUNKS.c.job_id == job_id, _CHUNKS.c.seq == seq)
        ).scalar()
        return None if found is None else bytes(found)

    def remove_ended(self, ended_before: datetime, silent_before: datetime) -> int:
        gone = or_(
            _JOBS.c.ended_at < ended_before,
            and_(_JOBS.c.ended_at.is_(None), _JOBS.c.beat_at < silent_before),
        )
        ids = select(_JOBS.c.id).where(gone)
        self._connection.execute(delete(_CHUNKS).where(_CHUNKS.c.job_id.in_(ids)))
        return self._connection.execute(delete(_JOBS).where(gone)).rowcount


def _job(row: Row[Any]) -> StoredJob:
    return StoredJob(
        id=row.id,
        principal_id=row.principal_id,
        kind=row.kind,
        what=row.what,
        total=row.total,
        done=row.done,
        started_at=row.started_at,
        beat_at=row.beat_at,
        outcome=row.outcome,
        failed=row.failed,
        ended_at=row.ended_at,
        media_type=row.media_type,
        size=row.size,
    )
