"""Every request's inputs, checked once for all routes before any of them uses one: text the
ledger can store and integers a column can hold, in the query, the path and a JSON body.

An application-wide dependency that runs after authentication (`api.auth.authorize`): whatever a
route declares, a NUL or an unpaired surrogate anywhere in what the client sent, or an integer
beyond BIGINT, is a 422 problem naming the parameter or the body field (`metadata.note`,
`lines[2].memo`), never a database error. The body is looked into only when its bytes could hold
one (a `\\u0000` or surrogate escape, a run of 19 digits): the common request pays a byte search.
Dates and narrower integers have their ranges in the schemas and in the domain.
"""

from __future__ import annotations

import json
import re

from fastapi import Request

from ledger.domain.bounds import TextNotStorable, check_text, first_oversized, first_unstorable
from ledger.domain.errors import InvalidField
from ledger.domain.limits import BIGINT_MAX

# A NUL or surrogate escape in JSON text (a lone one only shows once parsed), or a long number.
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])|\d{19}")
_INTEGER = re.compile(r"-?\d{19,}", flags=re.ASCII)
_BODIES = ("POST", "PUT", "PATCH", "DELETE")


async def check_inputs(request: Request) -> None:
    """Refuse a query or path parameter, or a JSON body field, the ledger cannot store."""
    scope = request.scope
    # Without a query string there are no query parameters to parse (most writes).
    query = request.query_params.multi_items() if scope.get("query_string") else []
    for name, value in [*query, *request.path_params.items()]:
        check_text(name, "query")
        check_text(str(value), name)
        _check_integer(str(value), name)
    if scope["method"] in _BODIES and "json" in request.headers.get("content-type", ""):
        body = await request.body()
        if _SUSPECT.search(body):
            _check_body(body)


def _check_integer(text: str, name: str) -> None:
    # More than 19 digits is beyond BIGINT whatever they are, and int() refuses over 4,300.
    if _INTEGER.fullmatch(text) and (len(text.lstrip("-")) > 19 or abs(int(text)) > BIGINT_MAX):
        raise InvalidField(f"{name} is beyond the largest integer the ledger stores", field=name)


def _check_body(body: bytes) -> None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # malformed: FastAPI answers it
    unstorable = first_unstorable(parsed)
    if unstorable is not None:
        field, why = unstorable
        raise TextNotStorable(f"{field} {why}", field=field)
    oversized = first_oversized(parsed)
    if oversized is not None:
        raise InvalidField(
            f"{oversized} is beyond the largest integer the ledger stores", field=oversized
        )
