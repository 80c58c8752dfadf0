"""Pure ASGI middleware: a request id on every request; each request counted and timed; request
bodies over REQUEST_BYTES_MAX refused before they are parsed."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PROBLEM_JSON
from ledger import metrics
from ledger.domain.limits import REQUEST_BYTES_MAX
from ledger.logs import REQUEST_ID

logger = logging.getLogger("api")
REQUEST_ID_HEADER = b"x-request-id"
# A caller's own id is kept only if it is short and harmless in a log line; else a new one.
CALLER_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
# Methods counted by name; any other is "other" (a label per invented method would be a leak).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestId:
    """Names each request: the caller's `X-Request-Id` if acceptable, else a new one.

    The id is answered in `X-Request-Id`, stamped on every log line written while the request
    runs (`ledger.logs.REQUEST_ID`) and readable by the routes as `request.state.request_id`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER)
        accepted = given is not None and CALLER_REQUEST_ID.fullmatch(given)
        request_id = given.decode() if given is not None and accepted else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # a 500: logged here, where the line still carries the request id
            logger.exception("unhandled error in %s %s", scope["method"], scope["path"])
            raise
        finally:
            REQUEST_ID.reset(token)


class BodySizeLimit:
    """Counts body bytes as they arrive (Content-Length can lie or be absent)."""

    def __init__(self, app: ASGIApp, limit: int = REQUEST_BYTES_MAX) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "/problems/request_too_large",
                "title": "Request body too large",
                "status": 413,
                "detail": f"request bodies are limited to {self.limit} bytes",
                "code": "request_too_large",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(HTTPException):
    """Raised from inside the app; FastAPI re-raises HTTP exceptions, so it reaches us here."""

    def __init__(self) -> None:
        super().__init__(413)


class RequestMetrics:
    """Counts each request and times it, labelled by its route template ("/v1/trades/{id}"),
    never by its path, so that the number of series stays that of the routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless an answer starts

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = scope.get("route")  # set by the router on this same scope once matched
            template = route.path if isinstance(route, Route) else "unmatched"
            method = scope["method"] if scope["method"] in METHODS else "other"
            count, latency = _series(method, template, status)
            count.inc()
            latency.observe(time.perf_counter() - started)


# (method, template, status) -> the request counter's and the latency histogram's series. Their
# number is that of the routes, methods and statuses; `labels()` would find the same series again
# at every request, behind a lock (~3 µs a request).
_SERIES: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
SERIES_MAX = 10_000  # a bound all the same


def _series(method: str, template: str, status: int) -> tuple[Counter, Histogram]:
    key = (method, template, status)
    series = _SERIES.get(key)
    if series is None:
        if len(_SERIES) >= SERIES_MAX:
            _SERIES.clear()
        series = (
            metrics.HTTP_REQUESTS.labels(method, template, str(status)),
            metrics.HTTP_LATENCY.labels(method, template),
        )
        _SERIES[key] = series
    return series


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The value of header `name` (the last one, as `dict(scope["headers"])` reads it)."""
    value = None
    for key, given in scope["headers"]:
        if key == name:
            value = given
    return value
