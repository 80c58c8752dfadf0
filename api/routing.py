"""The API's route class: a plain `def` route costs one thread-pool hop, not two.

FastAPI runs a `def` endpoint in the thread pool, then validates its answer against the
`response_model` in the thread pool again (it only does that inline for an `async def` one): two
hops per request, each a wake-up of a worker thread and its way back to the event loop, about a
tenth of a transfer's CPU. `OneHop` turns such an endpoint into an `async def` that runs the
original in the thread pool once; the answer is then validated and serialised on the event loop,
as for any `async def` route. What the endpoint receives, returns and raises is unchanged: the
wrapper has its signature (`functools.wraps`), so FastAPI sees the same parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


class OneHop(APIRoute):
    """An `APIRoute` whose plain-function endpoint runs in the thread pool with one hop."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, _one_hop(endpoint), **options)


def _one_hop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """`endpoint` as an `async def` running it in the thread pool (async ones and generators,
    which FastAPI streams, as they are)."""
    if not inspect.isfunction(endpoint) or _runs_on_the_loop(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    async def in_thread_pool(**values: Any) -> Any:
        return await run_in_threadpool(endpoint, **values)

    return in_thread_pool


def _runs_on_the_loop(endpoint: Callable[..., Any]) -> bool:
    return (
        inspect.iscoroutinefunction(endpoint)
        or inspect.isgeneratorfunction(endpoint)
        or inspect.isasyncgenfunction(endpoint)
    )
