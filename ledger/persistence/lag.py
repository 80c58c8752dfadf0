"""How far the sealer trails the journal, read for the metrics: two short index ranges.

The entries above the highest one chained wait for the sealer. On PostgreSQL a straggler below
it may wait too (see `ledger.services.chain`); it is not counted here, and the sealer's deep
rounds chain it within minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from ledger.persistence import tables as t

COUNTED_MAX = 1_000_000  # a scrape never counts more than this many waiting entries


@dataclass(frozen=True, slots=True)
class ChainLag:
    entries: int  # entries committed above the highest one chained (at most COUNTED_MAX)
    seconds: float  # how long the oldest of them has waited; 0 when none waits


def chain_lag(engine: Engine, now: datetime) -> ChainLag:
    """The entries waiting to be chained, and the wait of the oldest."""
    chained = select(func.coalesce(func.max(t.journal_chain.c.entry_seq), 0)).scalar_subquery()
    waiting = select(t.entries.c.seq).where(t.entries.c.seq > chained)
    oldest = (
        select(t.entries.c.recorded_at)
        .where(t.entries.c.seq > chained)
        .order_by(t.entries.c.seq)
        .limit(1)
    )
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count()).select_from(waiting.limit(COUNTED_MAX).subquery())
        ).scalar_one()
        recorded_at = connection.execute(oldest).scalar()
    waited = 0.0 if recorded_at is None else max((now - recorded_at).total_seconds(), 0.0)
    return ChainLag(int(count), waited)
