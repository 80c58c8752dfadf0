"""Logging: one configuration for the process and uvicorn, the request id on every line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from ledger import logs
from ledger.settings import Settings


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Settings], io.StringIO]]:
    """`logs.configure` with standard error captured; the root logger is put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def run(settings: Settings) -> io.StringIO:
        stderr = io.StringIO()
        monkeypatch.setattr("sys.stderr", stderr)
        logs.configure(settings)
        return stderr

    yield run
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_request_id_of_the_request(
    configure: Callable[[Settings], io.StringIO],
) -> None:
    stderr = configure(Settings(log_format="json"))
    logger = logging.getLogger("test.logging")

    token = logs.REQUEST_ID.set("req-42")
    logger.warning("retrying %s", "a transfer")
    logs.REQUEST_ID.reset(token)
    logger.warning("between requests")

    first, second = (json.loads(line) for line in stderr.getvalue().splitlines())
    assert first["message"] == "retrying a transfer"
    assert (first["level"], first["logger"], first["request_id"]) == (
        "WARNING",
        "test.logging",
        "req-42",
    )
    assert second["request_id"] == "-"


def test_text_lines_carry_the_request_id_and_respect_the_level(
    configure: Callable[[Settings], io.StringIO],
) -> None:
    stderr = configure(Settings(log_format="text", log_level="WARNING"))
    logger = logging.getLogger("test.logging")

    token = logs.REQUEST_ID.set("req-7")
    logger.info("too small to show")
    logger.warning("sweep failed")
    logs.REQUEST_ID.reset(token)

    assert "WARNING test.logging [req-7] sweep failed" in stderr.getvalue()
    assert "too small to show" not in stderr.getvalue()


def test_uvicorn_logs_through_the_same_handler(
    configure: Callable[[Settings], io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = configure(Settings(log_format="json"))
    access = logging.getLogger("uvicorn.access")
    # An in-process server started by an earlier test of this worker may have silenced it.
    monkeypatch.setattr(access, "disabled", False)
    monkeypatch.setattr(access, "level", logging.NOTSET)

    access.info('127.0.0.1 - "GET /v1/health HTTP/1.1" 200')

    assert json.loads(stderr.getvalue())["logger"] == "uvicorn.access"


def test_auto_is_json_when_standard_error_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())

    assert logs.chosen_format(Settings(log_format="auto")) == "json"
