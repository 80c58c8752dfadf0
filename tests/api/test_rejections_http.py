"""Bad requests over HTTP: each is a 4xx application/problem+json naming its rule with a stable
`code` and the culprit with `field`, and each leaves the ledger exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.domain import limits
from tests.api.support import (
    CEA,
    SO2,
    assert_entry_absent,
    assert_problem,
    assert_refused,
    posting,
    snapshot,
    transfer,
)


def entry(entry_id: str, *lines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"entry_id": entry_id, "entry_type": "transfer", "postings": list(lines), **extra}


def test_an_unbalanced_entry_is_refused(funded: TestClient) -> None:
    body = entry("bad", posting("E01", "debit", "10"), posting("E02", "credit", "9.999"))

    assert_refused(funded, "/v1/entries", body, 422, "entry_unbalanced", "postings")


def test_an_entry_balanced_only_across_instruments_is_refused(funded: TestClient) -> None:
    # 1.000 t of SO2 and 1000 tCO2 are both 1000 units: equal numbers, different instruments.
    body = entry("bad", posting("E01", "debit", "1"), posting("E02", "credit", "1000", CEA))

    assert_refused(funded, "/v1/entries", body, 422, "entry_unbalanced", "postings")


def test_an_entry_with_one_posting_is_refused(funded: TestClient) -> None:
    body = entry("bad", posting("E01", "debit", "1"))

    assert_refused(funded, "/v1/entries", body, 422, "too_few_postings", "postings")


def test_an_amount_finer_than_the_instrument_scale_is_refused(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1.0001"),
        422,
        "amount_too_precise",
        "postings[0].amount",
    )


def test_a_fraction_of_a_whole_unit_instrument_is_refused(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "0.5", CEA),
        422,
        "amount_too_precise",
        "postings[0].amount",
    )


@pytest.mark.parametrize("amount", ["0", "0.000", "-1", "-0.001", "-0"])
def test_a_zero_or_negative_amount_is_refused(funded: TestClient, amount: str) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", amount),
        422,
        "amount_not_positive",
        "postings[0].amount",
    )


@pytest.mark.parametrize("amount", ["99999999999999999999", "9223372036854775.808"])
def test_an_amount_too_large_to_store_is_refused(funded: TestClient, amount: str) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "ISSUANCE", "E02", amount),
        422,
        "amount_too_large",
        "postings[0].amount",
    )


def test_the_largest_storable_amount_is_accepted(ledger: TestClient) -> None:
    response = ledger.post(
        "/v1/entries", json=transfer("max", "ISSUANCE", "E01", "9223372036854775.807")
    )

    assert response.status_code == 201, response.text
    assert response.json()["postings"][0]["units"] == limits.UNITS_MAX


@pytest.mark.parametrize(
    "amount",
    ["1e3", "1E3", "NaN", "nan", "Infinity", "-Infinity", "abc", "0x10", "1,5", " 1", "1 "],
)
def test_an_amount_that_is_not_a_plain_decimal_string_is_refused(
    funded: TestClient, amount: str
) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", amount),
        422,
        "invalid_field",
        "postings[0].amount",
    )


def test_an_empty_amount_string_is_refused(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", ""),
        422,
        "invalid_field",
        "postings[0].amount",
    )


@pytest.mark.parametrize("amount", [12.5, 12, True, None], ids=["float", "int", "bool", "null"])
def test_an_amount_sent_as_a_json_number_is_refused_not_converted(
    funded: TestClient, amount: Any
) -> None:
    # Amounts travel as decimal strings only: a JSON number may already have lost precision.
    problem = assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", amount),
        422,
        "invalid_field",
        "postings[0].amount",
    )
    assert [error["field"] for error in problem["errors"]] == [
        "postings[0].amount",
        "postings[1].amount",
    ]


def test_an_unknown_account_in_the_body_is_refused(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "NOPE", "1"),
        422,
        "unknown_account",
        "postings[1].account",
    )


def test_an_unknown_instrument_in_the_body_is_refused(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1", "NOPE-2026"),
        422,
        "unknown_instrument",
        "postings[0].instrument",
    )


def test_a_malformed_account_code_in_the_body_is_refused(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E 02", "1"),
        422,
        "invalid_format",
        "postings[1].account",
    )


def test_a_debit_from_a_frozen_account_is_refused(funded: TestClient) -> None:
    funded.post("/v1/accounts/E01/freeze")

    problem = assert_refused(
        funded, "/v1/entries", transfer("bad", "E01", "E02", "1"), 422, "account_frozen"
    )
    assert "field" in problem


def test_a_posting_to_a_closed_account_is_refused(funded: TestClient) -> None:
    funded.post("/v1/accounts/E02/close")

    problem = assert_refused(
        funded, "/v1/entries", transfer("bad", "E01", "E02", "1"), 422, "account_closed"
    )
    assert "field" in problem


def test_overdrawing_a_non_negative_account_is_refused(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1500.001"),
        422,
        "insufficient_balance",
        "postings",
    )


def test_a_hold_counts_against_what_an_account_may_still_spend(funded: TestClient) -> None:
    hold = funded.post("/v1/pending-entries", json=transfer("hold", "E01", "E02", "1000"))
    assert hold.status_code == 201

    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "500.001"),
        422,
        "insufficient_balance",
        "postings",
    )


def test_reversing_an_entry_whose_proceeds_were_spent_is_refused(funded: TestClient) -> None:
    for body in (transfer("t1", "E01", "E02", "10"), transfer("t2", "E02", "E01", "10")):
        assert funded.post("/v1/entries", json=body).status_code == 201

    assert_refused(
        funded,
        "/v1/entries/t1/reverse",
        {"entry_id": "t1-rev"},
        422,
        "insufficient_balance",
        "postings",
    )
    assert funded.get("/v1/entries/t1").json()["reversed_by"] is None


def test_a_hold_naming_one_line_twice_is_refused(funded: TestClient) -> None:
    body = entry(
        "bad",
        posting("E01", "debit", "1"),
        posting("E01", "debit", "1"),
        posting("E02", "credit", "2"),
    )

    assert_refused(
        funded, "/v1/pending-entries", body, 422, "duplicate_pending_posting", "postings"
    )


def test_posting_a_line_that_is_not_part_of_the_hold_is_refused(funded: TestClient) -> None:
    assert (
        funded.post("/v1/pending-entries", json=transfer("hold", "E01", "E02", "5")).status_code
        == 201
    )

    assert_refused(
        funded,
        "/v1/pending-entries/hold/post",
        {
            "entry_id": "hold-post",
            "postings": [posting("E01", "debit", "1"), posting("ISSUANCE", "credit", "1")],
        },
        422,
        "invalid_field",
        "postings",
    )


def test_an_entry_with_too_many_postings_is_refused(ledger: TestClient) -> None:
    count = limits.POSTINGS_PER_ENTRY_MAX + 2
    lines = [posting("ISSUANCE", "debit", "0.001"), posting("E01", "credit", "0.001")] * (
        count // 2
    )

    assert_refused(
        ledger,
        "/v1/entries",
        entry("bad", *lines),
        422,
        "too_many_postings",
        "postings",
    )


def test_a_batch_over_the_entry_limit_is_refused(funded: TestClient) -> None:
    entries = [
        transfer(f"b{index}", "E01", "E02", "0.001")
        for index in range(limits.ENTRIES_PER_BATCH_MAX + 1)
    ]

    assert_refused(
        funded,
        "/v1/batches",
        {"entries": entries},
        422,
        "batch_too_large",
        "entries",
        absent=("b0", f"b{limits.ENTRIES_PER_BATCH_MAX}"),
    )


def test_a_bulk_request_over_the_item_limit_is_refused(funded: TestClient) -> None:
    entries = [
        transfer(f"b{index}", "E01", "E02", "0.001")
        for index in range(limits.ITEMS_PER_BULK_MAX + 1)
    ]

    assert_refused(
        funded,
        "/v1/bulk",
        {"entries": entries},
        422,
        "batch_too_large",
        "entries",
        absent=("b0",),
    )


def test_a_memo_over_the_length_limit_is_refused(funded: TestClient) -> None:
    memo = "m" * (limits.MEMO_LENGTH_MAX + 1)

    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1", memo=memo),
        422,
        "string_too_long",
        "memo",
    )


def test_a_memo_at_the_length_limit_is_accepted(funded: TestClient) -> None:
    memo = "m" * limits.MEMO_LENGTH_MAX

    response = funded.post("/v1/entries", json=transfer("ok", "E01", "E02", "1", memo=memo))

    assert response.status_code == 201, response.text
    assert response.json()["memo"] == memo


def test_metadata_over_the_size_limit_is_refused(funded: TestClient) -> None:
    metadata = {"note": "x" * limits.METADATA_BYTES_MAX}

    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1", metadata=metadata),
        422,
        "invalid_field",
        "metadata",
    )


def test_too_many_references_are_refused(funded: TestClient) -> None:
    references = [
        {"kind": "permit", "id": f"P{index}"}
        for index in range(limits.REFERENCES_PER_ENTRY_MAX + 1)
    ]

    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1", references=references),
        422,
        "too_many_items",
        "references",
    )


LISTINGS = [("/v1/accounts", {}), ("/v1/accounts/E01/statement", {"instrument": SO2})]


@pytest.mark.parametrize(("path", "params"), LISTINGS, ids=["accounts", "statement"])
@pytest.mark.parametrize("limit", [0, -1, limits.PAGE_SIZE_MAX + 1])
def test_a_page_size_out_of_range_is_refused(
    funded: TestClient, path: str, params: dict[str, str], limit: int
) -> None:
    response = funded.get(path, params={**params, "limit": str(limit)})

    assert_problem(response, 422, "page_size_out_of_range", "limit")


def test_a_page_size_that_is_not_a_number_is_refused(funded: TestClient) -> None:
    assert_problem(funded.get("/v1/accounts?limit=ten"), 422, "invalid_field", "limit")


def test_the_largest_page_size_is_accepted(funded: TestClient) -> None:
    response = funded.get("/v1/accounts", params={"limit": str(limits.PAGE_SIZE_MAX)})

    assert response.status_code == 200


@pytest.mark.parametrize("cursor", ["garbage!!", "bm90LWEtY3Vyc29y", "YWNjb3VudHM6LTE", "%%%"])
@pytest.mark.parametrize(("path", "params"), LISTINGS, ids=["accounts", "statement"])
def test_a_garbage_cursor_is_refused(
    funded: TestClient, path: str, params: dict[str, str], cursor: str
) -> None:
    response = funded.get(path, params={**params, "cursor": cursor})

    assert_problem(response, 422, "invalid_cursor", "cursor")


def test_a_cursor_of_another_listing_is_refused(funded: TestClient) -> None:
    page = funded.get("/v1/accounts/E01/statement", params={"instrument": SO2, "limit": "1"})
    statement_cursor = page.json()["next_cursor"]
    assert statement_cursor is not None

    response = funded.get("/v1/accounts", params={"cursor": statement_cursor})

    assert_problem(response, 422, "invalid_cursor", "cursor")


def test_malformed_json_is_a_400(funded: TestClient) -> None:
    before = snapshot(funded)

    response = funded.post(
        "/v1/entries",
        content=b'{"entry_id": "bad", "entry_type": ',
        headers={"content-type": "application/json"},
    )

    problem = assert_problem(response, 400, "malformed_json")
    assert "field" in problem
    assert snapshot(funded) == before
    assert_entry_absent(funded, "bad")


def test_a_body_that_is_not_a_json_object_is_refused(funded: TestClient) -> None:
    for content in (b"[]", b'"entry"', b"null", b"42"):
        response = funded.post(
            "/v1/entries", content=content, headers={"content-type": "application/json"}
        )
        assert_problem(response, 422, "invalid_field", "body")


def test_a_missing_body_is_refused(funded: TestClient) -> None:
    response = funded.post("/v1/entries")

    assert_problem(response, 422, "field_required", "body")


def test_an_unknown_field_is_refused(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1", colour="green"),
        422,
        "unknown_field",
        "colour",
    )


def test_an_unknown_field_inside_a_posting_is_refused(funded: TestClient) -> None:
    body = transfer("bad", "E01", "E02", "1")
    body["postings"][1]["currency"] = "CNY"

    assert_refused(funded, "/v1/entries", body, 422, "unknown_field", "postings[1].currency")


def test_a_missing_field_is_refused(funded: TestClient) -> None:
    body = transfer("bad", "E01", "E02", "1")
    del body["entry_type"]

    assert_refused(funded, "/v1/entries", body, 422, "field_required", "entry_type")


def test_a_missing_field_inside_a_posting_is_refused(funded: TestClient) -> None:
    body = transfer("bad", "E01", "E02", "1")
    del body["postings"][0]["side"]

    assert_refused(funded, "/v1/entries", body, 422, "field_required", "postings[0].side")


def test_an_unknown_side_is_refused(funded: TestClient) -> None:
    body = transfer("bad", "E01", "E02", "1")
    body["postings"][0]["side"] = "left"

    assert_refused(funded, "/v1/entries", body, 422, "invalid_field", "postings[0].side")


def test_an_effective_time_without_a_timezone_is_refused(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1", effective_at="2026-01-01T00:00:00"),
        422,
        "invalid_field",
        "effective_at",
    )


def test_an_expiry_on_an_entry_that_is_not_a_hold_is_refused(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("bad", "E01", "E02", "1", expires_at="2999-01-01T00:00:00Z"),
        422,
        "unknown_field",
        "expires_at",
    )


@pytest.mark.parametrize("entry_id", ["", " x", "x y", "ä", "a" * (limits.CODE_LENGTH_MAX + 1)])
def test_a_malformed_entry_id_is_refused(funded: TestClient, entry_id: str) -> None:
    problem = assert_refused(
        funded,
        "/v1/entries",
        transfer(entry_id, "E01", "E02", "1"),
        422,
        problem_code(entry_id),
        absent=(),
    )
    assert problem["field"] == "entry_id"


def problem_code(entry_id: str) -> str:
    if len(entry_id) > limits.CODE_LENGTH_MAX:
        return "string_too_long"
    return "invalid_field" if not entry_id else "invalid_format"


def test_a_request_body_over_the_size_limit_is_a_413(funded: TestClient) -> None:
    before = snapshot(funded)
    body = transfer("big", "E01", "E02", "1", memo="m" * limits.REQUEST_BYTES_MAX)

    response = funded.post("/v1/entries", json=body)

    assert_problem(response, 413, "request_too_large")
    assert snapshot(funded) == before
    assert_entry_absent(funded, "big")


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/v1/nowhere"), 404, "route_not_found")
    assert_problem(client.post("/v2/entries", json={}), 404, "route_not_found")


def test_a_wrong_method_is_a_405_problem(funded: TestClient) -> None:
    before = snapshot(funded)

    assert_problem(funded.delete("/v1/entries/fund-so2"), 405, "method_not_allowed")
    assert_problem(funded.put("/v1/accounts/E01", json={}), 405, "method_not_allowed")
    assert_problem(funded.get("/v1/batches"), 405, "method_not_allowed")
    assert snapshot(funded) == before
    assert funded.get("/v1/entries/fund-so2").status_code == 200


def test_a_malformed_entry_id_in_the_path_is_refused(funded: TestClient) -> None:
    assert_problem(funded.get("/v1/entries/" + "a" * 65), 422, "string_too_long", "entry_id")
    assert_problem(funded.get("/v1/entries/bad%20id"), 422, "invalid_format", "entry_id")
