"""Hostile and unusual input over HTTP: never a 500, always a problem that names its culprit,
and never a change to the ledger when a request is refused.

Each test pins one edge where a client's mistake must come back as a 4xx problem+json.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx2
import pytest
from fastapi.testclient import TestClient

from ledger.domain import limits
from tests.api.support import (
    SO2,
    account_body,
    assert_entry_absent,
    assert_problem,
    assert_refused,
    snapshot,
    transfer,
)


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def post_raw(client: TestClient, path: str, content: bytes) -> httpx2.Response:
    return client.post(path, content=content, headers={"content-type": "application/json"})


@pytest.mark.parametrize("amount", ["1_000", "1_000.5", "١٢", "１２", "12\u00a0"])
def test_an_amount_with_digit_separators_or_non_ascii_digits_is_refused(
    funded: TestClient, amount: str
) -> None:
    # Python's Decimal() accepts these; the wire format is plain ASCII digits only.
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", amount),
        422,
        "invalid_field",
        "postings[0].amount",
    )


@pytest.mark.parametrize(
    ("path", "params", "kind"),
    [
        ("/v1/accounts", {}, "accounts"),
        ("/v1/accounts/E01/statement", {"instrument": SO2}, "statement"),
    ],
    ids=["accounts", "statement"],
)
def test_a_cursor_naming_a_position_beyond_any_row_id_is_refused(
    funded: TestClient, path: str, params: dict[str, str], kind: str
) -> None:
    cursor = cursor_of(f"{kind}:{10**25}")

    response = funded.get(path, params={**params, "cursor": cursor})

    assert_problem(response, 422, "invalid_cursor", "cursor")


@pytest.mark.parametrize(
    ("field", "instant"),
    [
        ("effective_at", "0001-01-01T00:00:00+14:00"),
        ("effective_at", "9999-12-31T23:59:59-12:00"),
    ],
)
def test_an_instant_outside_the_representable_utc_range_is_refused(
    funded: TestClient, field: str, instant: str
) -> None:
    body = transfer("bad", "E01", "E02", "1", **{field: instant})

    assert_refused(funded, "/v1/entries", body, 422, "date_out_of_range", field)


def test_a_hold_expiring_beyond_the_representable_utc_range_is_refused(
    funded: TestClient,
) -> None:
    body = transfer("bad", "E01", "E02", "1", expires_at="9999-12-31T23:59:59-12:00")

    assert_refused(funded, "/v1/pending-entries", body, 422, "date_out_of_range", "expires_at")


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_a_balance_as_of_an_instant_outside_the_utc_range_is_not_a_server_error(
    funded: TestClient, as_of: str
) -> None:
    # Outside 2000-01-01..2100-12-31 (UTC): refused, never an OverflowError turned into a 500.
    response = funded.get(f"/v1/accounts/E01/balances/{SO2}", params={"as_of": as_of})

    assert_problem(response, 422, "date_out_of_range", "as_of")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_metadata_with_a_non_finite_number_is_refused(funded: TestClient, token: str) -> None:
    # Python's json module accepts these tokens, but they are not JSON: refuse them (as
    # malformed JSON or as an invalid metadata value), never store them. Today PostgreSQL's
    # json type raises a 500 and SQLite stores them and hands back null.
    text = json.dumps(transfer("bad", "E01", "E02", "1"))[:-1] + f', "metadata": {{"x": {token}}}}}'
    before = snapshot(funded)

    response = post_raw(funded, "/v1/entries", text.encode())

    assert response.status_code in (400, 422), response.text
    code = "malformed_json" if response.status_code == 400 else "invalid_field"
    problem = assert_problem(response, response.status_code, code)
    assert problem["field"].startswith("metadata") or code == "malformed_json"
    assert snapshot(funded) == before
    assert_entry_absent(funded, "bad")


def test_a_nul_character_in_a_memo_is_refused_on_every_backend(funded: TestClient) -> None:
    # PostgreSQL cannot store U+0000 in text (a 500 today); SQLite stores it. Refuse it on both.
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1", memo="line\x00break"),
        422,
        "text_not_storable",
        "memo",
    )


def test_a_nul_character_in_a_reference_is_refused_on_every_backend(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1", references=[{"kind": "permit", "id": "HB\x002026"}]),
        422,
        "text_not_storable",
        "references[0].id",
    )


def test_a_nul_character_in_an_account_name_is_refused(ledger: TestClient) -> None:
    assert_refused(
        ledger,
        "/v1/accounts",
        account_body("E09", name="bad\x00name"),
        422,
        "text_not_storable",
        "name",
    )
    assert_problem(ledger.get("/v1/accounts/E09"), 404, "account_not_found")


def test_a_request_body_over_the_size_limit_without_a_length_is_a_413(
    funded: TestClient,
) -> None:
    data = json.dumps(transfer("big", "E01", "E02", "1", memo="m" * limits.REQUEST_BYTES_MAX))

    def chunks() -> Iterator[bytes]:
        encoded = data.encode()
        for start in range(0, len(encoded), 65536):
            yield encoded[start : start + 65536]

    before = snapshot(funded)

    response = funded.post(
        "/v1/entries", content=chunks(), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "request_too_large")
    assert snapshot(funded) == before
    assert_entry_absent(funded, "big")


def test_json_nested_too_deeply_to_parse_is_malformed_json(funded: TestClient) -> None:
    depth = 100_000
    before = snapshot(funded)

    response = post_raw(funded, "/v1/entries", b"[" * depth + b"]" * depth)

    assert_problem(response, 400, "malformed_json")
    assert snapshot(funded) == before


def test_malformed_json_blames_the_body_not_a_list_index(funded: TestClient) -> None:
    response = post_raw(funded, "/v1/entries", b'{"entry_id": "bad", ')

    assert_problem(response, 400, "malformed_json", "body")


def test_a_batch_names_the_entry_whose_account_is_unknown(funded: TestClient) -> None:
    body = {
        "entries": [
            transfer("b1", "E01", "E02", "1"),
            transfer("b2", "E01", "NOPE", "1"),
        ]
    }

    assert_refused(
        funded,
        "/v1/batches",
        body,
        422,
        "unknown_account",
        "entries[1].postings[1].account",
        absent=("b1", "b2"),
    )


def test_a_batch_names_the_entry_that_would_overdraw(funded: TestClient) -> None:
    body = {
        "entries": [
            transfer("b1", "E01", "E02", "1"),
            transfer("b2", "E02", "E01", "2"),
        ]
    }

    assert_refused(
        funded,
        "/v1/batches",
        body,
        422,
        "insufficient_balance",
        "entries[1].postings",
        absent=("b1", "b2"),
    )


def test_a_batch_names_the_hold_whose_deadline_has_passed(funded: TestClient) -> None:
    hold = {
        **transfer("b2", "E01", "E02", "1", expires_at="2000-01-01T00:00:00Z"),
        "pending": True,
    }
    body = {"entries": [transfer("b1", "E01", "E02", "1"), hold]}

    assert_refused(
        funded,
        "/v1/batches",
        body,
        422,
        "invalid_field",
        "entries[1].expires_at",
        absent=("b1", "b2"),
    )


@pytest.mark.parametrize(
    ("action", "code"), [("freeze", "account_frozen"), ("close", "account_closed")]
)
def test_a_refusal_by_an_account_rule_names_the_offending_posting(
    funded: TestClient, action: str, code: str
) -> None:
    target = "E01" if action == "freeze" else "E02"
    assert funded.post("/v1/accounts/" + target + "/" + action).status_code == 200
    body = {
        "entry_id": "bad",
        "entry_type": "transfer",
        "postings": [
            {"account": "ISSUANCE", "instrument": SO2, "side": "debit", "amount": "1"},
            {"account": "E01", "instrument": SO2, "side": "credit", "amount": "1"},
            {"account": "E01", "instrument": SO2, "side": "debit", "amount": "1"},
            {"account": "E02", "instrument": SO2, "side": "credit", "amount": "1"},
        ],
    }
    expected = "postings[2].account" if action == "freeze" else "postings[3].account"

    assert_refused(funded, "/v1/entries", body, 422, code, expected)


# '²' passes str.isdigit() but int() refuses it; '٢' (Arabic-Indic) and '２' (full width) pass
# \d in Python and in pydantic-core. Numbers in text are ASCII digits only.
NON_ASCII_DIGITS = ["²", "٢", "２"]


@pytest.mark.parametrize("digit", NON_ASCII_DIGITS)
def test_an_audit_cursor_of_non_ascii_digits_is_refused(funded: TestClient, digit: str) -> None:
    response = funded.get("/v1/audit-log", params={"cursor": digit * 3})

    assert_problem(response, 422, "invalid_cursor", "cursor")


@pytest.mark.parametrize("digit", NON_ASCII_DIGITS)
def test_a_year_of_non_ascii_digits_in_a_credit_schedule_is_refused(
    funded: TestClient, digit: str
) -> None:
    response = funded.get(
        "/v1/parties/E01/equipment-credit-schedule", params={"cit_payable": f"{digit * 4}:100"}
    )

    assert_problem(response, 422, "invalid_field", "cit_payable")


@pytest.mark.parametrize("digit", NON_ASCII_DIGITS)
def test_a_month_of_non_ascii_digits_is_refused(funded: TestClient, digit: str) -> None:
    response = funded.get(
        "/v1/cems/months", params={"from": f"{digit * 4}-{digit * 2}", "to": "2026-01"}
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "from" in response.text


@pytest.mark.parametrize(
    "given",
    [["2026:1.00", "2026:2.00"], ["99999999999999999999:1.00"], ["1999:1.00"], ["9" * 5000 + ":1"]],
    ids=["a-year-twice", "a-year-beyond-bigint", "a-year-before-2000", "a-year-of-5000-digits"],
)
def test_a_credit_schedule_with_a_year_twice_or_out_of_range_is_refused(
    funded: TestClient, given: list[str]
) -> None:
    response = funded.get(
        "/v1/parties/E01/equipment-credit-schedule",
        params=[("cit_payable", item) for item in given],
    )

    assert_problem(response, 422, "invalid_field", "cit_payable")


def test_a_query_integer_of_5000_digits_is_refused_not_a_500(funded: TestClient) -> None:
    # Python's int() refuses text of more than 4,300 digits with a ValueError.
    response = funded.get("/v1/accounts", params={"limit": "9" * 5000})

    assert_problem(response, 422, "invalid_field", "limit")
