"""Creations whose retry answers 200 with the earlier record (a replay) document that 200 with
the same body as their 201, so clients and the schemathesis checks (test_fuzzing.py) accept it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

REPLAYING = ["/v1/trades"]


@pytest.mark.parametrize("path", REPLAYING)
def test_a_replay_status_is_documented_with_the_created_body(client: TestClient, path: str) -> None:
    responses = client.get("/openapi.json").json()["paths"][path]["post"]["responses"]

    def body(status: str) -> object:
        return responses[status].get("content", {}).get("application/json", {}).get("schema")

    assert body("201") is not None
    assert body("200") == body("201")
