"""Logging, configured once per process: text for a terminal, JSON lines for production.

`configure(settings)` applies `dictconfig(settings)`, which the server also hands to uvicorn so
that every worker logs the same way (uvicorn's own and access lines included). Every line
carries the id of the HTTP request it was written for (`REQUEST_ID`, set by the API's
middleware; `-` outside a request), so that one request's lines can be found together.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from ledger.settings import Settings

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
# Loggers that would otherwise keep handlers of their own: everything goes through the root's.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def chosen_format(settings: Settings) -> str:
    """`text` or `json`: `auto` is text on a terminal, JSON otherwise (a service's log)."""
    if settings.log_format != "auto":
        return settings.log_format
    return "text" if sys.stderr.isatty() else "json"


class StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler that writes to whatever `sys.stderr` is when it emits, not to the one there was
    when logging was configured (a command run twice in one process, under test capture, would
    otherwise write to a stream closed since)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        """The stream is always the current `sys.stderr`."""


def dictconfig(settings: Settings) -> dict[str, Any]:
    """The `logging.config.dictConfig` document of these settings (also uvicorn's)."""
    quiet_own_handlers = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "text": {"format": TEXT_FORMAT},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "stderr": {
                "()": StandardError,
                "formatter": chosen_format(settings),
                "filters": ["request_id"],
            }
        },
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": {name: dict(quiet_own_handlers) for name in UVICORN_LOGGERS},
    }


def configure(settings: Settings) -> None:
    """Configure this process's logging from the settings."""
    logging.config.dictConfig(dictconfig(settings))
