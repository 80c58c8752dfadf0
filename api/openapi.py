"""The OpenAPI document as the API really answers: problem+json errors and bearer security.

FastAPI documents a 422 `HTTPValidationError` (application/json) on every operation, but every
error of this API is an `application/problem+json` document (`api.errors`). `install` post-
processes the generated schema once: the `Problem` schema, the problem responses each operation
may give, the bearer token that every operation except the PUBLIC ones needs (`api.permissions`),
and the CSV and XLSX media types of the reports that take `?format=`. Schemathesis checks every
response against this document (tests/api/test_fuzzing.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.auth import CREDENTIAL_ENDPOINTS
from api.errors import PROBLEM_JSON
from api.permissions import PERMISSIONS
from ledger.services import exports

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem; `code` is stable, `field` names the input to blame.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "every invalid input (or line of a file), the first one also above",
            "items": {
                "type": "object",
                "required": ["code", "detail"],
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
PROBLEMS = {
    "400": "Malformed JSON",
    "401": "No valid bearer token",
    "403": "The caller's role may not call this operation",
    "404": "Not found (or out of the caller's scope)",
    "409": "Conflicts with the ledger's state (idempotency, state of a record)",
    "413": "Request body too large",
    "422": "The request is not valid, or a rule refuses it",
    "429": "Too many requests, or failed authentications from this source: see Retry-After",
    "503": "The ledger is busy: retry the same request",
}
WRITE_ONLY = ("400", "409", "413", "503")  # statuses only a request with a body can get
BEARER = "bearerToken"


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with one that documents problems and security."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document(generate())
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def document(schema: dict[str, Any]) -> None:
    """Mutate a generated OpenAPI document in place."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "`elt_<id>_<secret>`, issued by an administrator",
        }
    }
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            key = f"{method.upper()} {path}"
            public = key in PERMISSIONS and not PERMISSIONS[key]
            # A public operation that takes a credential (an enrolment code) can refuse it.
            unauthenticated = not public or key in CREDENTIAL_ENDPOINTS
            writes = method in ("post", "put", "patch")
            responses = operation.setdefault("responses", {})
            for status, description in PROBLEMS.items():
                skip = (
                    (status in ("401", "429") and not unauthenticated)
                    or (status == "403" and public)
                    or (status in WRITE_ONLY and not writes)
                )
                if skip:
                    continue
                responses[status] = {"description": description, "content": problem}
            operation["security"] = [] if public else [{BEARER: []}]
            if any(
                p.get("name") == "format" and p.get("in") == "query"
                for p in operation.get("parameters", ())
            ):
                _document_exports(responses)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def _document_exports(responses: dict[str, Any]) -> None:
    """A report with `?format=` (api/routers/finance.py) answers JSON, CSV or XLSX."""
    ok = responses.setdefault("200", {"description": "The report"})
    content = ok.setdefault("content", {})
    for name, media_type in exports.MEDIA_TYPES.items():
        bare = media_type.split(";")[0]
        if name != "json":
            content[bare] = {"schema": {"type": "string", "format": "binary"}}
