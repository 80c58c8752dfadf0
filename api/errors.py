"""One table from rejections to HTTP, and every error rendered as application/problem+json.

A problem carries `type`, `title`, `status`, `detail`, a stable snake_case `code` and, where one
field is to blame, `field` (a dotted path such as `postings[1].amount`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import audit_rejection
from ledger.domain.access import RateLimited
from ledger.domain.errors import Kind, LedgerError, RetryableConflict

logger = logging.getLogger("api")

PROBLEM_JSON = "application/problem+json"

STATUS_OF_KIND = {
    Kind.INVALID: 422,
    Kind.UNPROCESSABLE: 422,
    Kind.NOT_FOUND: 404,
    Kind.CONFLICT: 409,
    Kind.UNAUTHENTICATED: 401,
    Kind.FORBIDDEN: 403,
    Kind.TOO_MANY: 429,
}

# Pydantic error types with a code of their own; every other one is `invalid_field`.
VALIDATION_CODES = {
    "json_invalid": "malformed_json",
    "string_too_long": "string_too_long",
    "too_long": "too_many_items",
    "missing": "field_required",
    "extra_forbidden": "unknown_field",
    "string_pattern_mismatch": "invalid_format",
    "date_out_of_range": "date_out_of_range",
}

# Answers of the HTTP layer itself, by status. FastAPI answers 400 when it cannot parse a body
# at all (e.g. nesting too deep).
HTTP_STATUS_CODES = {
    400: "malformed_json",
    404: "route_not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


def problem(
    status: int, code: str, title: str, detail: str, field: str | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field is not None:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def field_path(location: tuple[int | str, ...] | list[int | str]) -> str:
    """('body', 'postings', 1, 'amount') -> 'postings[1].amount'."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _ledger_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, LedgerError)
    status = STATUS_OF_KIND[error.kind]
    audit_rejection(request, error.code, audited=error.audited)
    return problem(status, error.code, error.title, error.detail, error.field)


def _rate_limited(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RateLimited)
    answer = problem(STATUS_OF_KIND[error.kind], error.code, error.title, error.detail)
    answer.headers["Retry-After"] = str(error.retry_after)
    return answer


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {
            # A JSON syntax error's location is a character position, not a field.
            "field": "body" if item["type"] == "json_invalid" else field_path(item["loc"]),
            "code": VALIDATION_CODES.get(item["type"], "invalid_field"),
            "detail": item["msg"],
        }
        for item in error.errors()
    ]
    first = errors[0]
    status = 400 if first["code"] == "malformed_json" else 422
    audit_rejection(request, first["code"])
    return problem(
        status,
        first["code"],
        "The request is not valid",
        first["detail"],
        first["field"],
        errors=errors,
    )


def _retryable(_: Request, error: Exception) -> JSONResponse:
    logger.warning("retries exhausted: %s", error)
    return problem(
        503,
        "busy_retry_later",
        "The ledger is busy",
        "concurrent writers kept conflicting; retry the same request",
    )


def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = HTTP_STATUS_CODES.get(error.status_code, "http_error")
    return problem(error.status_code, code, str(error.detail), str(error.detail))


def install(app: FastAPI) -> None:
    """Register every handler: each kind of error is rendered in exactly one place."""
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RetryableConflict, _retryable)
    app.add_exception_handler(StarletteHTTPException, _http_error)
