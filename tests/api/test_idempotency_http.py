"""Retries over HTTP: the same request again gets the same answer, marked `Idempotent-Replayed`,
and the ledger holds one record; the same id for another request is a 409."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.support import (
    REPLAYED,
    SO2,
    assert_refused,
    balance,
    post_entry,
    posting,
    snapshot,
    statement,
    transfer,
)


def entry_ids(client: TestClient, account: str, instrument: str = SO2) -> list[str]:
    return [line["entry_id"] for line in statement(client, account, instrument)]


def test_a_retried_entry_gets_the_same_answer_marked_as_replayed(funded: TestClient) -> None:
    body = transfer("t1", "E01", "E02", "10", memo="retry me", metadata={"try": 1})
    first = funded.post("/v1/entries", json=body)

    again = funded.post("/v1/entries", json=body)

    assert (first.status_code, again.status_code) == (201, 201)
    assert REPLAYED not in first.headers
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert entry_ids(funded, "E02") == ["t1"]
    assert balance(funded, "E02")["balance"] == "10.000"


def test_a_retry_after_a_lost_response_books_the_entry_once(funded: TestClient) -> None:
    body = transfer("t1", "E01", "E02", "10")
    funded.post("/v1/entries", json=body)  # the response is lost on the way back
    after_first = snapshot(funded)

    retry = funded.post("/v1/entries", json=body)

    assert retry.status_code == 201
    assert retry.headers[REPLAYED] == "true"
    assert retry.json()["entry_id"] == "t1"
    assert snapshot(funded) == after_first
    assert entry_ids(funded, "E02") == ["t1"]


def test_a_retry_is_replayed_even_when_booking_it_again_would_now_be_refused(
    funded: TestClient,
) -> None:
    body = transfer("all", "E01", "E02", "1500")
    first = funded.post("/v1/entries", json=body)

    again = funded.post("/v1/entries", json=body)

    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert balance(funded, "E01")["balance"] == "0.000"


def test_the_same_entry_id_for_another_request_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("t1", "E01", "E02", "10"))

    assert_refused(
        funded,
        "/v1/entries",
        transfer("t1", "E01", "E02", "11"),
        409,
        "entry_exists_with_different_request",
        "entry_id",
        absent=(),
    )
    assert entry_ids(funded, "E02") == ["t1"]
    assert funded.get("/v1/entries/t1").json()["postings"][0]["amount"] == "10.000"


def test_the_same_entry_id_with_another_memo_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("t1", "E01", "E02", "10", memo="first"))

    assert_refused(
        funded,
        "/v1/entries",
        transfer("t1", "E01", "E02", "10", memo="second"),
        409,
        "entry_exists_with_different_request",
        "entry_id",
        absent=(),
    )


def test_an_amount_written_differently_but_equal_is_the_same_request(funded: TestClient) -> None:
    first = post_entry(funded, transfer("t1", "E01", "E02", "10"))

    again = funded.post("/v1/entries", json=transfer("t1", "E01", "E02", "10.000"))

    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first


def test_a_rejected_request_does_not_use_up_its_entry_id(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/entries",
        transfer("t1", "E01", "E02", "2000"),
        422,
        "insufficient_balance",
        "postings",
    )

    fixed = funded.post("/v1/entries", json=transfer("t1", "E01", "E02", "20"))

    assert fixed.status_code == 201
    assert REPLAYED not in fixed.headers


def test_an_entry_id_used_by_a_hold_cannot_be_reused_for_an_entry(funded: TestClient) -> None:
    post_entry(funded, transfer("h1", "E01", "E02", "10"), "/v1/pending-entries")

    assert_refused(
        funded,
        "/v1/entries",
        transfer("h1", "E01", "E02", "10"),
        409,
        "entry_exists_with_different_request",
        "entry_id",
        absent=(),
    )


def test_a_retried_reversal_gets_the_same_answer_and_reverses_once(funded: TestClient) -> None:
    post_entry(funded, transfer("t1", "E01", "E02", "10"))
    first = funded.post("/v1/entries/t1/reverse", json={"entry_id": "t1-rev"})
    after_first = snapshot(funded)

    again = funded.post("/v1/entries/t1/reverse", json={"entry_id": "t1-rev"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert REPLAYED not in first.headers
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert snapshot(funded) == after_first
    assert entry_ids(funded, "E02") == ["t1", "t1-rev"]


def test_a_reversal_id_reused_with_another_memo_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("t1", "E01", "E02", "10"))
    post_entry(funded, {"entry_id": "t1-rev", "memo": "typo"}, "/v1/entries/t1/reverse")

    assert_refused(
        funded,
        "/v1/entries/t1/reverse",
        {"entry_id": "t1-rev", "memo": "wrong price"},
        409,
        "entry_exists_with_different_request",
        "entry_id",
        absent=(),
    )


def test_a_reversal_id_reused_to_reverse_another_entry_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("t1", "E01", "E02", "10"))
    post_entry(funded, transfer("t2", "E01", "E02", "20"))
    post_entry(funded, {"entry_id": "rev"}, "/v1/entries/t1/reverse")

    assert_refused(
        funded,
        "/v1/entries/t2/reverse",
        {"entry_id": "rev"},
        409,
        "entry_exists_with_different_request",
        "entry_id",
        absent=(),
    )
    assert funded.get("/v1/entries/t2").json()["reversed_by"] is None


def test_a_retried_post_of_a_hold_gets_the_same_answer_and_posts_once(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")
    body = {
        "entry_id": "hold-post",
        "postings": [posting("E01", "debit", "40"), posting("E02", "credit", "40")],
    }
    first = funded.post("/v1/pending-entries/hold/post", json=body)  # response lost
    after_first = snapshot(funded)

    again = funded.post("/v1/pending-entries/hold/post", json=body)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert snapshot(funded) == after_first
    assert entry_ids(funded, "E02") == ["hold-post"]
    assert balance(funded, "E02")["balance"] == "40.000"


def test_a_post_id_reused_for_another_part_of_the_hold_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")
    post_entry(funded, {"entry_id": "hold-post"}, "/v1/pending-entries/hold/post")

    assert_refused(
        funded,
        "/v1/pending-entries/hold/post",
        {
            "entry_id": "hold-post",
            "postings": [posting("E01", "debit", "40"), posting("E02", "credit", "40")],
        },
        409,
        "entry_exists_with_different_request",
        "entry_id",
        absent=(),
    )


def test_posting_a_hold_again_under_a_new_id_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")
    post_entry(funded, {"entry_id": "hold-post"}, "/v1/pending-entries/hold/post")

    assert_refused(
        funded,
        "/v1/pending-entries/hold/post",
        {"entry_id": "hold-post-2"},
        409,
        "pending_entry_already_posted",
        "entry_id",
    )


def test_a_retried_void_gets_the_same_answer(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")
    first = funded.post("/v1/pending-entries/hold/void", json={"entry_id": "hold-void"})

    again = funded.post("/v1/pending-entries/hold/void", json={"entry_id": "hold-void"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert balance(funded, "E01")["available"] == "1500.000"


def test_a_retried_hold_gets_the_same_answer_and_reserves_once(funded: TestClient) -> None:
    body = transfer("hold", "E01", "E02", "100")
    first = funded.post("/v1/pending-entries", json=body)

    again = funded.post("/v1/pending-entries", json=body)

    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert balance(funded, "E01")["available"] == "1400.000"


def test_a_retried_batch_is_replayed_whole(funded: TestClient) -> None:
    body = {"entries": [transfer("b1", "E01", "E02", "1"), transfer("b2", "E01", "E02", "2")]}
    first = funded.post("/v1/batches", json=body)

    again = funded.post("/v1/batches", json=body)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert entry_ids(funded, "E02") == ["b1", "b2"]


def test_a_batch_that_partly_exists_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("b1", "E01", "E02", "1"))
    body = {"entries": [transfer("b1", "E01", "E02", "1"), transfer("b2", "E01", "E02", "2")]}

    problem = assert_refused(
        funded, "/v1/batches", body, 409, "batch_partially_exists", absent=("b2",)
    )
    assert problem["field"] == "entries"


def test_a_retried_bulk_request_reports_every_item_as_replayed(funded: TestClient) -> None:
    body = {"entries": [transfer("b1", "E01", "E02", "1"), transfer("b2", "E01", "E02", "2")]}
    first = funded.post("/v1/bulk", json=body)
    after_first = snapshot(funded)

    again = funded.post("/v1/bulk", json=body)

    assert [r["outcome"] for r in first.json()["results"]] == ["created", "created"]
    assert [r["outcome"] for r in again.json()["results"]] == ["replayed", "replayed"]
    assert [r["entry"] for r in again.json()["results"]] == [
        r["entry"] for r in first.json()["results"]
    ]
    assert snapshot(funded) == after_first
