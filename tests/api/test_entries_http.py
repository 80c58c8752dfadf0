"""Journal entries over HTTP: post, read, reverse, holds (post, void, expire), batch and bulk."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient

from api.app import create_app
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.settings import Settings
from tests.api.support import (
    CEA,
    CNY,
    SO2,
    Clock,
    assert_entry_absent,
    assert_refused,
    balance,
    headers_for,
    post_entry,
    posting,
    seed_registry,
    statement,
    transfer,
)


def test_posting_an_entry_answers_201_with_amounts_at_the_instrument_scale(
    ledger: TestClient,
) -> None:
    response = ledger.post(
        "/v1/entries",
        json=transfer(
            "issue-1",
            "ISSUANCE",
            "E01",
            "1500",
            memo="annual allocation",
            metadata={"permit": "HB-2026-001"},
            references=[{"kind": "permit", "id": "HB-2026-001"}],
        ),
    )

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    entry = response.json()
    assert entry["entry_id"] == "issue-1"
    assert entry["status"] == entry["state"] == "posted"
    assert entry["postings"] == [
        {
            "account": "ISSUANCE",
            "instrument": SO2,
            "side": "debit",
            "amount": "1500.000",
            "units": 1500000,
        },
        {
            "account": "E01",
            "instrument": SO2,
            "side": "credit",
            "amount": "1500.000",
            "units": 1500000,
        },
    ]
    assert entry["memo"] == "annual allocation"
    assert entry["metadata"] == {"permit": "HB-2026-001"}
    assert entry["references"] == [{"kind": "permit", "id": "HB-2026-001"}]
    assert entry["effective_at"] == entry["recorded_at"]
    assert entry["reversed_by"] is None


def test_amounts_are_formatted_to_each_instruments_own_scale(ledger: TestClient) -> None:
    cea = post_entry(ledger, transfer("cea", "ISSUANCE", "E01", "1000", CEA))
    cny = post_entry(ledger, transfer("cny", "ISSUANCE", "E01", "12.3", CNY))
    so2 = post_entry(ledger, transfer("so2", "ISSUANCE", "E01", "0.5"))

    assert [(p["amount"], p["units"]) for p in cea["postings"]] == [("1000", 1000)] * 2
    assert [(p["amount"], p["units"]) for p in cny["postings"]] == [("12.30", 1230)] * 2
    assert [(p["amount"], p["units"]) for p in so2["postings"]] == [("0.500", 500)] * 2


def test_an_entry_may_move_several_instruments_each_balanced(ledger: TestClient) -> None:
    post_entry(ledger, transfer("fund", "ISSUANCE", "E01", "100"))
    trade = {
        "entry_id": "trade-1",
        "entry_type": "adjustment",
        "postings": [
            posting("E01", "debit", "10"),
            posting("E02", "credit", "10"),
            posting("ISSUANCE", "debit", "250.00", CNY),
            posting("E01", "credit", "250.00", CNY),
        ],
    }

    post_entry(ledger, trade)

    assert balance(ledger, "E01")["balance"] == "90.000"
    assert balance(ledger, "E02")["balance"] == "10.000"
    assert balance(ledger, "E01", CNY)["balance"] == "250.00"


def test_an_entry_with_the_most_postings_allowed_is_accepted(ledger: TestClient) -> None:
    lines = [posting("ISSUANCE", "debit", "0.001"), posting("E01", "credit", "0.001")] * 32

    entry = post_entry(ledger, {"entry_id": "many", "entry_type": "adjustment", "postings": lines})

    assert len(entry["postings"]) == 64
    assert balance(ledger, "E01")["balance"] == "0.032"


def test_a_posted_entry_can_be_read_back(funded: TestClient) -> None:
    posted = post_entry(funded, transfer("t1", "E01", "E02", "1.25"))

    response = funded.get("/v1/entries/t1")

    assert response.status_code == 200
    assert response.json() == posted


def test_an_unknown_entry_is_404(ledger: TestClient) -> None:
    assert_entry_absent(ledger, "never-posted")


def test_reversing_an_entry_swaps_every_side_and_restores_the_balances(
    funded: TestClient,
) -> None:
    post_entry(funded, transfer("t1", "E01", "E02", "100"))

    response = funded.post("/v1/entries/t1/reverse", json={"entry_id": "t1-rev", "memo": "error"})

    assert response.status_code == 201, response.text
    reversal = response.json()
    assert reversal["entry_type"] == "reversal"
    assert reversal["reverses_entry_id"] == "t1"
    assert [(p["account"], p["side"], p["amount"]) for p in reversal["postings"]] == [
        ("E01", "credit", "100.000"),
        ("E02", "debit", "100.000"),
    ]
    assert balance(funded, "E01")["balance"] == "1500.000"
    assert balance(funded, "E02")["balance"] == "0.000"
    assert funded.get("/v1/entries/t1").json()["reversed_by"] == "t1-rev"


def test_reversing_an_entry_a_second_time_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("t1", "E01", "E02", "100"))
    post_entry(funded, {"entry_id": "t1-rev"}, "/v1/entries/t1/reverse")

    assert_refused(
        funded, "/v1/entries/t1/reverse", {"entry_id": "t1-rev-2"}, 409, "entry_already_reversed"
    )
    assert funded.get("/v1/entries/t1").json()["reversed_by"] == "t1-rev"


def test_reversing_an_unknown_entry_is_404(funded: TestClient) -> None:
    assert_refused(
        funded, "/v1/entries/nope/reverse", {"entry_id": "nope-rev"}, 404, "entry_not_found"
    )


def test_a_hold_cannot_be_reversed(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "1"), "/v1/pending-entries")

    assert_refused(
        funded, "/v1/entries/hold/reverse", {"entry_id": "hold-rev"}, 409, "entry_not_reversible"
    )


def test_a_hold_reserves_its_amounts_until_it_is_resolved(funded: TestClient) -> None:
    hold = post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")

    assert hold["status"] == hold["state"] == "pending"
    source = balance(funded, "E01")
    assert (source["balance"], source["available"], source["debits_pending"]) == (
        "1500.000",
        "1400.000",
        "100.000",
    )
    assert balance(funded, "E02")["credits_pending"] == "100.000"
    assert statement(funded, "E02") == []


def test_posting_part_of_a_hold_books_that_part_and_releases_the_rest(
    funded: TestClient,
) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")

    response = funded.post(
        "/v1/pending-entries/hold/post",
        json={
            "entry_id": "hold-post",
            "postings": [posting("E01", "debit", "60"), posting("E02", "credit", "60")],
        },
    )

    assert response.status_code == 201, response.text
    assert response.json()["pending_entry_id"] == "hold"
    assert [p["amount"] for p in response.json()["postings"]] == ["60.000", "60.000"]
    source, destination = balance(funded, "E01"), balance(funded, "E02")
    assert (source["balance"], source["available"], source["debits_pending"]) == (
        "1440.000",
        "1440.000",
        "0.000",
    )
    assert (destination["balance"], destination["credits_pending"]) == ("60.000", "0.000")
    view = funded.get("/v1/entries/hold").json()
    assert (view["status"], view["state"], view["resolved_by"]) == (
        "pending",
        "posted",
        "hold-post",
    )


def test_posting_a_hold_in_full_books_all_of_it(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")

    post_entry(funded, {"entry_id": "hold-post"}, "/v1/pending-entries/hold/post")

    assert balance(funded, "E02")["balance"] == "100.000"
    assert balance(funded, "E01")["available"] == "1400.000"


def test_posting_more_than_a_hold_reserved_is_refused(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")

    assert_refused(
        funded,
        "/v1/pending-entries/hold/post",
        {
            "entry_id": "hold-post",
            "postings": [posting("E01", "debit", "100.001"), posting("E02", "credit", "100.001")],
        },
        422,
        "post_exceeds_pending",
        "postings",
    )


def test_voiding_a_hold_releases_everything_it_reserved(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")

    void = post_entry(funded, {"entry_id": "hold-void"}, "/v1/pending-entries/hold/void")

    assert void["status"] == "voided"
    assert void["postings"] == []
    assert balance(funded, "E01")["available"] == "1500.000"
    assert balance(funded, "E02")["credits_pending"] == "0.000"
    assert funded.get("/v1/entries/hold").json()["state"] == "voided"


def test_posting_a_voided_hold_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")
    post_entry(funded, {"entry_id": "hold-void"}, "/v1/pending-entries/hold/void")

    assert_refused(
        funded,
        "/v1/pending-entries/hold/post",
        {"entry_id": "hold-post"},
        409,
        "pending_entry_already_voided",
        "entry_id",
    )


def test_voiding_a_posted_hold_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "100"), "/v1/pending-entries")
    post_entry(funded, {"entry_id": "hold-post"}, "/v1/pending-entries/hold/post")

    assert_refused(
        funded,
        "/v1/pending-entries/hold/void",
        {"entry_id": "hold-void"},
        409,
        "pending_entry_already_posted",
        "entry_id",
    )


def test_posting_an_entry_that_is_not_a_hold_is_a_conflict(funded: TestClient) -> None:
    assert_refused(
        funded,
        "/v1/pending-entries/fund-so2/post",
        {"entry_id": "x-post"},
        409,
        "entry_not_pending",
    )


def test_a_hold_must_expire_in_the_future(funded: TestClient, clock: Clock) -> None:
    past = (clock() - timedelta(seconds=1)).isoformat()

    assert_refused(
        funded,
        "/v1/pending-entries",
        transfer("hold", "E01", "E02", "1", expires_at=past),
        422,
        "invalid_field",
        "expires_at",
    )


def test_the_expire_endpoint_expires_holds_past_their_deadline(
    funded: TestClient, clock: Clock
) -> None:
    deadline = (clock() + timedelta(hours=1)).isoformat()
    post_entry(
        funded, transfer("hold", "E01", "E02", "100", expires_at=deadline), "/v1/pending-entries"
    )
    post_entry(
        funded,
        transfer("later", "E01", "E02", "1", expires_at=(clock() + timedelta(days=1)).isoformat()),
        "/v1/pending-entries",
    )
    early = funded.post("/v1/pending-entries/expire")
    assert early.status_code == 200
    assert early.json() == {"expired": []}

    clock.advance(timedelta(hours=2))
    response = funded.post("/v1/pending-entries/expire")

    assert response.json() == {"expired": ["hold"]}
    view = funded.get("/v1/entries/hold").json()
    assert view["state"] == "expired"
    assert view["resolved_by"] is not None
    assert balance(funded, "E01")["available"] == "1499.000"
    assert funded.post("/v1/pending-entries/expire").json() == {"expired": []}


def test_the_record_of_an_expiry_can_be_read_back_by_the_id_the_hold_shows(
    funded: TestClient, clock: Clock
) -> None:
    deadline = (clock() + timedelta(hours=1)).isoformat()
    post_entry(
        funded, transfer("hold", "E01", "E02", "100", expires_at=deadline), "/v1/pending-entries"
    )
    clock.advance(timedelta(hours=2))
    funded.post("/v1/pending-entries/expire")
    resolved_by = funded.get("/v1/entries/hold").json()["resolved_by"]

    response = funded.get(f"/v1/entries/{resolved_by}")

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["pending_entry_id"]) == ("expired", "hold")


def test_the_background_sweeper_expires_holds_while_the_app_runs(
    database_url: str, clock: Clock
) -> None:
    store = Store(create_ledger_engine(database_url, sqlite_synchronous="NORMAL"), clock=clock)
    settings = Settings(database_url=database_url, expiry_sweep_seconds=0.02, four_eyes=frozenset())
    app = create_app(settings, store=store, sweep_expired_holds=True)
    with TestClient(app) as sweeping:
        sweeping.headers.update(headers_for(sweeping, "regulator"))
        seed_registry(sweeping)
        post_entry(sweeping, transfer("fund", "ISSUANCE", "E01", "10"))
        deadline = (clock() + timedelta(hours=1)).isoformat()
        post_entry(
            sweeping,
            transfer("hold", "E01", "E02", "4", expires_at=deadline),
            "/v1/pending-entries",
        )
        clock.advance(timedelta(hours=2))

        give_up = time.monotonic() + 5
        while sweeping.get("/v1/entries/hold").json()["state"] == "pending":
            assert time.monotonic() < give_up, "the sweeper never expired the hold"
            time.sleep(0.02)

        assert sweeping.get("/v1/entries/hold").json()["state"] == "expired"
        assert balance(sweeping, "E01")["available"] == "10.000"


def test_posting_an_expired_hold_is_a_conflict(funded: TestClient, clock: Clock) -> None:
    deadline = (clock() + timedelta(hours=1)).isoformat()
    post_entry(
        funded, transfer("hold", "E01", "E02", "100", expires_at=deadline), "/v1/pending-entries"
    )
    clock.advance(timedelta(hours=2))
    funded.post("/v1/pending-entries/expire")

    assert_refused(
        funded,
        "/v1/pending-entries/hold/post",
        {"entry_id": "hold-post"},
        409,
        "pending_entry_expired",
        "entry_id",
    )


def test_posting_a_hold_past_its_deadline_before_any_sweep_is_a_conflict(
    funded: TestClient, clock: Clock
) -> None:
    deadline = (clock() + timedelta(hours=1)).isoformat()
    post_entry(
        funded, transfer("hold", "E01", "E02", "100", expires_at=deadline), "/v1/pending-entries"
    )
    clock.advance(timedelta(hours=2))

    assert_refused(
        funded,
        "/v1/pending-entries/hold/post",
        {"entry_id": "hold-post"},
        409,
        "pending_entry_expired",
        "entry_id",
    )
    assert funded.get("/v1/entries/hold").json()["state"] == "pending"


def test_a_batch_posts_all_its_entries_in_order(funded: TestClient) -> None:
    body = {
        "entries": [
            transfer("b1", "E01", "E02", "10"),
            transfer("b2", "E02", "E01", "4"),
            {**transfer("b3", "E01", "E02", "1"), "pending": True},
        ]
    }

    response = funded.post("/v1/batches", json=body)

    assert response.status_code == 201, response.text
    entries = response.json()["entries"]
    assert [(e["entry_id"], e["status"]) for e in entries] == [
        ("b1", "posted"),
        ("b2", "posted"),
        ("b3", "pending"),
    ]
    assert balance(funded, "E02")["balance"] == "6.000"
    assert balance(funded, "E01")["available"] == "1493.000"


def test_a_batch_with_one_bad_entry_writes_nothing(funded: TestClient) -> None:
    body = {
        "entries": [
            transfer("b1", "E01", "E02", "10"),
            transfer("b2", "E01", "E02", "1.0005"),
        ]
    }

    assert_refused(
        funded,
        "/v1/batches",
        body,
        422,
        "amount_too_precise",
        "entries[1].postings[0].amount",
        absent=("b1", "b2"),
    )


def test_a_batch_whose_later_entry_overdraws_writes_nothing(funded: TestClient) -> None:
    body = {
        "entries": [
            transfer("b1", "E01", "E02", "10"),
            transfer("b2", "E02", "E01", "10.001"),
        ]
    }

    assert_refused(funded, "/v1/batches", body, 422, "insufficient_balance", absent=("b1", "b2"))


def test_a_batch_that_is_not_valid_json_schema_names_the_entry(funded: TestClient) -> None:
    body = {"entries": [transfer("b1", "E01", "E02", "10"), transfer("b2", "E01", "E02", 10)]}

    assert_refused(
        funded,
        "/v1/batches",
        body,
        422,
        "invalid_field",
        "entries[1].postings[0].amount",
        absent=("b1", "b2"),
    )


def test_a_batch_naming_one_entry_id_twice_is_refused(funded: TestClient) -> None:
    body = {"entries": [transfer("b1", "E01", "E02", "1"), transfer("b1", "E01", "E02", "1")]}

    assert_refused(
        funded, "/v1/batches", body, 422, "duplicate_entry_id_in_request", "entries[1].entry_id"
    )


def test_an_empty_batch_is_refused(funded: TestClient) -> None:
    assert_refused(funded, "/v1/batches", {"entries": []}, 422, "invalid_field", "entries")


def test_bulk_reports_an_outcome_for_every_item(funded: TestClient) -> None:
    post_entry(funded, transfer("done", "E01", "E02", "1"))
    body = {
        "entries": [
            transfer("new", "E01", "E02", "2"),
            transfer("broke", "E02", "E01", "1000"),
            transfer("done", "E01", "E02", "1"),
            transfer("fine", "E01", "E02", "0.001"),
        ]
    }

    response = funded.post("/v1/bulk", json=body)

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["index"], r["entry_id"], r["outcome"], r["code"]) for r in results] == [
        (0, "new", "created", None),
        (1, "broke", "rejected", "insufficient_balance"),
        (2, "done", "replayed", None),
        (3, "fine", "created", None),
    ]
    assert results[1]["entry"] is None
    assert results[1]["detail"]
    assert results[0]["entry"]["postings"][0]["amount"] == "2.000"
    assert results[2]["entry"] == funded.get("/v1/entries/done").json()
    assert_entry_absent(funded, "broke")
    assert balance(funded, "E02")["balance"] == "3.001"


def test_bulk_names_the_field_of_a_rejected_item(funded: TestClient) -> None:
    body = {"entries": [transfer("ok", "E01", "E02", "1"), transfer("bad", "E01", "E02", "0.0001")]}

    results = funded.post("/v1/bulk", json=body).json()["results"]

    assert (results[1]["outcome"], results[1]["code"], results[1]["field"]) == (
        "rejected",
        "amount_too_precise",
        "postings[0].amount",
    )
    assert results[0]["outcome"] == "created"


def test_an_effective_time_in_the_past_is_kept_apart_from_the_recorded_time(
    funded: TestClient, clock: Clock
) -> None:
    beijing = timezone(timedelta(hours=8))
    effective = (clock() - timedelta(days=30)).astimezone(beijing).replace(microsecond=0)

    entry = post_entry(
        funded, transfer("backdated", "E01", "E02", "1", effective_at=effective.isoformat())
    )

    assert datetime.fromisoformat(entry["effective_at"]) == effective
    assert datetime.fromisoformat(entry["recorded_at"]) <= clock()
    assert datetime.fromisoformat(entry["recorded_at"]) > effective
