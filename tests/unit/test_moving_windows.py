"""The API's in-process moving windows count as the `limits` library's moving window does."""

from __future__ import annotations

import pytest
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from api import rate_limits
from api.rate_limits import MovingWindows


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


def test_hits_are_allowed_while_fewer_than_the_amount_fell_in_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeTime()
    monkeypatch.setattr(rate_limits, "time", clock)
    windows, limit = MovingWindows(), parse("3/minute")
    answers = []
    for step in (0, 10, 20, 30, 59.5, 60, 70, 79.9, 80):
        clock.now = 1_000_000.0 + step
        answers.append(windows.hit(limit, "p"))

    # Hits at 0, 10, 20 fill the window; the one at 0 still counts at 60 (refused: retry in a
    # second at least), not at 70; at 79.9 only 20 and 70 count, at 80 so do 20, 70 and 79.9.
    assert answers == [None, None, None, 30, 1, 1, None, None, 1]
    assert windows.hit(parse("3/minute"), "q") is None  # each key has its own window


def test_the_same_hits_as_the_limits_library_s_moving_window() -> None:
    library = MovingWindowRateLimiter(MemoryStorage())
    windows, limit = MovingWindows(), parse("50/second")
    ours = [windows.hit(limit, "p") is None for _ in range(120)]
    theirs = [library.hit(limit, "p") for _ in range(120)]

    assert ours == theirs == [True] * 50 + [False] * 70
