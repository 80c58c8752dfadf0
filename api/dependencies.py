"""FastAPI dependencies: the unit-of-work factory the composition root put on the app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ledger.domain.ports import UnitOfWorkFactory


def get_store(request: Request) -> UnitOfWorkFactory:
    store: UnitOfWorkFactory = request.app.state.store
    return store


Store = Annotated[UnitOfWorkFactory, Depends(get_store)]
