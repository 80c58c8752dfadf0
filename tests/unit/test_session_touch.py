"""A console session's last use is written best effort: a busy database never fails the page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.domain.errors import RetryableConflict
from ledger.services import sessions


def test_a_last_use_the_busy_database_cannot_take_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def busy(*_: Any, **__: Any) -> None:
        raise RetryableConflict("database is locked")

    monkeypatch.setattr(sessions, "in_transaction", busy)

    sessions._touch(lambda: None, "a" * 64, datetime(2026, 12, 6, tzinfo=UTC))  # type: ignore[arg-type]

    assert "last use was not written" in caplog.text
