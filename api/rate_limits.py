"""Bounded authentication and request rates, with the `limits` library (moving windows).

- Failed authentication (a bad, expired or revoked token; a wrong enrolment code) is counted per
  source address: past `failed_auth` failures in the window, every request from that source is
  answered 429 with `Retry-After` before its credential is even looked at. Failures are audited
  in aggregate: one line for the first failure of a source in a window and one when the source
  is cut off, never one per request.
- Successful requests are counted per principal (`per_principal`): past it, 429.

The counters live in the process (`memory://`) unless `LEDGER_RATE_LIMIT_STORAGE` names a shared
store (`redis://host:6379`, with the `redis` package installed), so several workers or servers
share one budget. In the process, a principal's requests are counted by `MovingWindows` (the same
moving window, kept in a deque): the `limits` library's memory storage cost ~40 µs a request at
300 requests a second (a list insert at its head, a timer thread started every 10 ms to expire
entries), 2 % of a transfer's CPU. The source is the connection's peer address: behind a proxy,
configure the proxy to limit per client, or run uvicorn with `--forwarded-allow-ips` so the peer
is the client.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ledger.domain.access import RateLimited

FAILED = "failed-auth"
REQUESTS = "requests"


@dataclass(frozen=True, slots=True)
class Failure:
    """What counting one failed authentication decided: whether it is worth an audit line."""

    first_in_window: bool
    cut_off: bool


class RateLimits:
    """The process's counters for failed authentication (per source) and requests (per
    principal)."""

    def __init__(self, failed_auth: str, per_principal: str, storage: str = "memory://") -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage))
        self._failed = parse_many(failed_auth)
        self._requests = parse_many(per_principal)
        self._in_process = MovingWindows() if storage == "memory://" else None

    def check_source(self, source: str) -> None:
        """Refuse a source that failed to authenticate too often (429, `Retry-After`)."""
        for limit in self._failed:
            if not self._limiter.test(limit, FAILED, source):
                raise RateLimited(
                    f"too many failed authentications from {source}; retry later",
                    self._retry_after(limit, FAILED, source),
                )

    def fail(self, source: str) -> Failure:
        """Count one failed authentication of `source`."""
        first = all(
            self._limiter.get_window_stats(limit, FAILED, source).remaining == limit.amount
            for limit in self._failed
        )
        allowed = all([self._limiter.hit(limit, FAILED, source) for limit in self._failed])
        cut_off = allowed and not all(
            self._limiter.test(limit, FAILED, source) for limit in self._failed
        )
        return Failure(first, cut_off)

    def hit_principal(self, principal_id: str) -> None:
        """Count one request of a principal; refuse it past its budget."""
        for limit in self._requests:
            if self._in_process is not None:
                retry_after = self._in_process.hit(limit, principal_id)
            elif self._limiter.hit(limit, REQUESTS, principal_id):
                retry_after = None
            else:
                retry_after = self._retry_after(limit, REQUESTS, principal_id)
            if retry_after is not None:
                raise RateLimited(
                    f"principal {principal_id} sends too many requests; retry later", retry_after
                )

    def _retry_after(self, limit: RateLimitItem, *keys: str) -> int:
        reset = self._limiter.get_window_stats(limit, *keys).reset_time
        return max(1, math.ceil(reset - time.time()))


class MovingWindows:
    """Moving windows in the process, as the `limits` library's `MovingWindowRateLimiter`: a hit
    is allowed while fewer than `amount` were allowed in the last `expiry` seconds. Each key's
    deque holds the instants of those hits, oldest first, at most `amount` of them."""

    def __init__(self) -> None:
        self._hits: dict[tuple[int, int, str], deque[float]] = {}
        self._lock = threading.Lock()  # the console's threads count principals too

    def hit(self, limit: RateLimitItem, key: str) -> int | None:
        """Count one hit of `key`; None if allowed, else the seconds until one would be."""
        expiry = limit.get_expiry()
        now = time.time()
        with self._lock:
            hits = self._hits.setdefault((limit.amount, expiry, key), deque())
            while hits and hits[0] < now - expiry:  # a hit `expiry` ago still counts
                hits.popleft()
            if len(hits) >= limit.amount:
                return max(1, math.ceil(hits[0] + expiry - now))
            hits.append(now)
            return None
