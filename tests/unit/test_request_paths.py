"""The path an audit line names is `request.url.path`, read without building the URL: for every
path, with or without a Host header, both say the same."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from api.auth import path_of

PATHS = [
    "/v1/entries",
    "/v1/entries/E-1/reverse",
    "/v1/entries/a b/reverse",
    "/v1/entries/é€/reverse",
    "/v1/entries/a?b",
    "/v1/entries/a#b",
    "/v1/entries/a\\b",
    "/v1/entries/a\tb",
    "/v1/entries/a\r\nb",
    "//v1/entries",
    "///x",
    "/",
    "*",
    "",
    "a:b/c",
    "/a:b",
    "/%3F",
    "/x/../y",
    "/\x00/\x7f",
]


@pytest.mark.parametrize("host", [b"ledger.example:8443", None])
@pytest.mark.parametrize("path", PATHS)
def test_path_of_is_the_urls_path(path: str, host: bytes | None) -> None:
    headers = [(b"host", host)] if host is not None else []
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "query_string": b"a=1",
        "headers": headers,
        "server": ("127.0.0.1", 8000) if host else None,
    }

    assert path_of(Request(scope)) == Request(scope).url.path
