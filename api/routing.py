"""The API's routers: a plain `def` route costs one thread-pool hop, not two; a router whose
routes cannot match a path says so at once.

FastAPI runs a `def` endpoint in the thread pool, then validates its answer against the
`response_model` in the thread pool again (it only does that inline for an `async def` one): two
hops per request, each a wake-up of a worker thread and its way back to the event loop, about a
tenth of a transfer's CPU. `OneHop` turns such an endpoint into an `async def` that runs the
original in the thread pool once; the answer is then validated and serialised on the event loop,
as for any `async def` route. What the endpoint receives, returns and raises is unchanged: the
wrapper has its signature (`functools.wraps`), so FastAPI sees the same parameters.

The application tries its routers in order, and FastAPI asks each router's routes in turn
(~4 µs a route: its own scope bookkeeping around the path's regular expression): a transfer,
in the fourth router, was matched after some 30 routes, 150 µs. `Routes.matches` first asks one
expression that any path one of its routes matches also matches (each route's path, at the end
of the request's path); a router none of whose routes can match answers "no match" as FastAPI
would have. Every other case is FastAPI's own matching, unchanged.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

_GROUP = re.compile(r"\(\?P<\w+>")  # a named group: unnamed in the union (names repeat)


class Routes(APIRouter):
    """An `APIRouter` of `OneHop` routes that refuses a path none of them can match at once."""

    def __init__(self, **options: Any) -> None:
        super().__init__(route_class=OneHop, **options)
        self._filter: tuple[int, re.Pattern[str] | None] = (-1, None)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            could_match = self._paths()
            if could_match is not None and not could_match.search(scope["path"]):
                return Match.NONE, {}
        return super().matches(scope)

    def _paths(self) -> re.Pattern[str] | None:
        """The union of the routes' paths (None: a route that is not an API route)."""
        count, union = self._filter
        if count != len(self.routes):  # routes are added at start-up only
            union = paths_union(self.routes)
            self._filter = (len(self.routes), union)
        return union


def paths_union(routes: Sequence[BaseRoute]) -> re.Pattern[str] | None:
    """One expression matching the end of any path one of `routes` matches (wherever the
    router is included), or None if one of them is not an `APIRoute`."""
    api_routes = [route for route in routes if isinstance(route, APIRoute)]
    if len(api_routes) != len(routes):
        return None
    paths = [_GROUP.sub("(?:", route.path_regex.pattern.removeprefix("^")) for route in api_routes]
    return re.compile("|".join(f"(?:{path})" for path in paths) or "(?!)")


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
