"""Bounded authentication and request rates, with the `limits` library (moving windows).

- Failed authentication (a bad, expired or revoked token; a wrong enrolment code) is counted per
  source address: past `failed_auth` failures in the window, every request from that source is
  answered 429 with `Retry-After` before its credential is even looked at. Failures are audited
  in aggregate: one line for the first failure of a source in a window and one when the source
  is cut off, never one per request.
- Successful requests are counted per principal (`per_principal`): past it, 429.

The counters live in the process (`memory://`) unless `LEDGER_RATE_LIMIT_STORAGE` names a shared
store (`redis://host:6379`, with the `redis` package installed), so several workers or servers
share one budget. The source is the connection's peer address: behind a proxy, configure the
proxy to limit per client, or run uvicorn with `--forwarded-allow-ips` so the peer is the client.
"""

from __future__ import annotations

import math
import time
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
            if not self._limiter.hit(limit, REQUESTS, principal_id):
                raise RateLimited(
                    f"principal {principal_id} sends too many requests; retry later",
                    self._retry_after(limit, REQUESTS, principal_id),
                )

    def _retry_after(self, limit: RateLimitItem, *keys: str) -> int:
        reset = self._limiter.get_window_stats(limit, *keys).reset_time
        return max(1, math.ceil(reset - time.time()))
