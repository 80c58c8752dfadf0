"""FastAPI dependencies: the unit-of-work factory the composition root put on the app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from ledger.domain.limits import YEAR_MAX, YEAR_MIN
from ledger.domain.ports import UnitOfWorkFactory


async def get_store(request: Request) -> UnitOfWorkFactory:
    """Async although it never awaits: FastAPI runs a plain `def` dependency in its thread pool,
    a hop per request that cost more than the dependency itself."""
    store: UnitOfWorkFactory = request.app.state.store
    return store


Store = Annotated[UnitOfWorkFactory, Depends(get_store)]

# Path and query parameters the registry's routers share.
IdPath = Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Cursor = Annotated[str | None, Query(max_length=200)]
Filter = Annotated[str | None, Query(max_length=64)]
YearQuery = Annotated[int | None, Query(ge=YEAR_MIN, le=YEAR_MAX, description="a year")]
