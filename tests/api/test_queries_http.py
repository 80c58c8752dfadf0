"""Reading the ledger over HTTP: balances now and as of, statements, trial balance, operations."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.app import create_app
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import chain
from ledger.settings import Settings
from tests.api.support import (
    CEA,
    CNY,
    SO2,
    Clock,
    assert_problem,
    balance,
    headers_for,
    post_entry,
    seed_registry,
    transfer,
)


def test_the_current_balance_shows_posted_pending_and_version(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "10"), "/v1/pending-entries")

    current = balance(funded, "E01")

    assert current == {
        "account": "E01",
        "instrument": SO2,
        "normal_side": "credit",
        "balance": "1500.000",
        "available": "1490.000",
        "debits_posted": "0.000",
        "credits_posted": "1500.000",
        "debits_pending": "10.000",
        "credits_pending": "0.000",
        "money": None,
        "version": current["version"],
        "as_of": None,
        "axis": None,
    }
    assert isinstance(current["version"], int)
    assert current["version"] >= 2


def test_a_debit_normal_account_shows_its_balance_on_the_debit_side(funded: TestClient) -> None:
    issuance = balance(funded, "ISSUANCE")

    assert (issuance["normal_side"], issuance["balance"], issuance["debits_posted"]) == (
        "debit",
        "1500.000",
        "1500.000",
    )


def test_a_cash_balance_is_also_shown_as_money(funded: TestClient) -> None:
    cash = balance(funded, "E01", CNY)

    assert cash["balance"] == "10000.00"
    assert cash["money"] == {"amount": "10000.00", "currency": "CNY"}


def test_an_account_lists_a_balance_for_every_instrument_it_has_held(funded: TestClient) -> None:
    response = funded.get("/v1/accounts/E01/balances")

    assert response.status_code == 200
    assert sorted((b["instrument"], b["balance"]) for b in response.json()["balances"]) == [
        (CEA, "1000"),
        (CNY, "10000.00"),
        (SO2, "1500.000"),
    ]


def test_a_balance_in_an_instrument_never_held_is_zero(ledger: TestClient) -> None:
    assert balance(ledger, "E02", CEA)["balance"] == "0"
    assert ledger.get("/v1/accounts/E02/balances").json() == {"balances": []}


def test_a_balance_in_an_unknown_instrument_is_refused(ledger: TestClient) -> None:
    response = ledger.get("/v1/accounts/E01/balances/NOPE")

    assert_problem(response, 422, "unknown_instrument", "instrument")


def test_a_balance_as_of_an_instant_on_the_recorded_axis(funded: TestClient, clock: Clock) -> None:
    post_entry(funded, transfer("t1", "E01", "E02", "10"))
    between = clock()
    clock.advance(timedelta(minutes=1))
    post_entry(funded, transfer("t2", "E01", "E02", "5"))

    past = balance(funded, "E02", as_of=between.isoformat())

    assert (past["balance"], past["as_of"] is not None, past["axis"]) == (
        "10.000",
        True,
        "recorded",
    )
    assert past["version"] is None
    assert balance(funded, "E02")["balance"] == "15.000"
    before_anything = (between - timedelta(days=1)).isoformat()
    assert balance(funded, "E02", as_of=before_anything)["balance"] == "0.000"


def test_a_balance_as_of_an_instant_on_the_effective_axis_counts_back_dated_entries(
    funded: TestClient, clock: Clock
) -> None:
    last_week = clock() - timedelta(days=7)
    post_entry(
        funded,
        transfer("backdated", "E01", "E02", "3", effective_at=last_week.isoformat()),
    )
    six_days_ago = (last_week + timedelta(days=1)).isoformat()

    effective = balance(funded, "E02", as_of=six_days_ago, axis="effective")
    recorded = balance(funded, "E02", as_of=six_days_ago, axis="recorded")

    assert (effective["balance"], effective["axis"]) == ("3.000", "effective")
    assert (recorded["balance"], recorded["axis"]) == ("0.000", "recorded")


def test_as_of_accepts_any_utc_offset_for_the_same_instant(
    funded: TestClient, clock: Clock
) -> None:
    post_entry(funded, transfer("t1", "E01", "E02", "10"))
    moment = clock() + timedelta(seconds=1)
    in_beijing = moment.astimezone(timezone(timedelta(hours=8))).isoformat()

    assert balance(funded, "E02", as_of=in_beijing)["balance"] == "10.000"
    assert balance(funded, "E02", as_of=moment.astimezone(UTC).isoformat())["balance"] == "10.000"


def test_as_of_without_a_timezone_is_refused(funded: TestClient) -> None:
    response = funded.get(
        f"/v1/accounts/E01/balances/{SO2}", params={"as_of": "2026-01-01T00:00:00"}
    )

    assert_problem(response, 422, "invalid_field", "as_of")


def test_an_unknown_time_axis_is_refused(funded: TestClient) -> None:
    response = funded.get(
        f"/v1/accounts/E01/balances/{SO2}",
        params={"as_of": "2026-01-01T00:00:00Z", "axis": "booked"},
    )

    assert_problem(response, 422, "invalid_field", "axis")


def test_a_statement_pages_through_movements_with_the_running_balance(
    funded: TestClient,
) -> None:
    for index, amount in enumerate(("1", "2", "3", "4")):
        post_entry(funded, transfer(f"in-{index}", "E01", "E02", amount))
    post_entry(funded, transfer("out", "E02", "E01", "0.5"))

    pages = []
    cursor = None
    while True:
        params = {"instrument": SO2, "limit": "2"}
        if cursor is not None:
            params["cursor"] = cursor
        response = funded.get("/v1/accounts/E02/statement", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert (page["account"], page["instrument"]) == ("E02", SO2)
        pages.append(
            [
                (line["entry_id"], line["side"], line["amount"], line["balance"])
                for line in page["lines"]
            ]
        )
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == [
        [("in-0", "credit", "1.000", "1.000"), ("in-1", "credit", "2.000", "3.000")],
        [("in-2", "credit", "3.000", "6.000"), ("in-3", "credit", "4.000", "10.000")],
        [("out", "debit", "0.500", "9.500")],
    ]


def test_a_statement_of_a_debit_normal_account_runs_on_the_debit_side(
    funded: TestClient,
) -> None:
    response = funded.get("/v1/accounts/ISSUANCE/statement", params={"instrument": CEA})

    lines = response.json()["lines"]
    assert [(line["entry_id"], line["side"], line["balance"]) for line in lines] == [
        ("fund-cea", "debit", "1000")
    ]
    assert response.json()["next_cursor"] is None


def test_a_statement_needs_an_instrument(funded: TestClient) -> None:
    assert_problem(funded.get("/v1/accounts/E01/statement"), 422, "field_required", "instrument")


def test_the_trial_balance_lists_every_account_and_balances(funded: TestClient) -> None:
    post_entry(funded, transfer("t1", "E01", "E02", "400"))

    response = funded.get("/v1/trial-balance", params={"instrument": SO2})

    assert response.status_code == 200
    trial = response.json()
    assert trial["instrument"] == SO2
    assert sorted((line["account"], line["debit"], line["credit"]) for line in trial["lines"]) == [
        ("E01", "0.000", "1100.000"),
        ("E02", "0.000", "400.000"),
        ("ISSUANCE", "1500.000", "0.000"),
    ]
    assert (trial["debits_total"], trial["credits_total"], trial["balanced"]) == (
        "1500.000",
        "1500.000",
        True,
    )


def test_the_trial_balance_of_an_unknown_instrument_is_refused(ledger: TestClient) -> None:
    response = ledger.get("/v1/trial-balance", params={"instrument": "NOPE"})

    assert_problem(response, 422, "unknown_instrument", "instrument")


def test_the_invariant_check_finds_nothing_wrong(funded: TestClient) -> None:
    response = funded.get("/v1/invariants")

    assert response.status_code == 200
    assert response.json() == {"ok": True, "violations": []}


def test_health_reports_the_database_in_use(client: TestClient, database_url: str) -> None:
    response = client.get("/v1/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": make_url(database_url).get_backend_name(),
    }


def test_the_openapi_document_and_the_docs_are_served(client: TestClient) -> None:
    schema = client.get("/openapi.json")
    docs = client.get("/docs")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/v1/entries", "/v1/batches", "/v1/bulk", "/v1/pending-entries/expire"):
        assert path in paths
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")


def test_recorded_times_are_reported_in_utc(funded: TestClient) -> None:
    entry = funded.get("/v1/entries/fund-so2").json()

    recorded = datetime.fromisoformat(entry["recorded_at"])
    assert recorded.utcoffset() == timedelta(0)


def test_verify_recomputes_the_chains_and_the_invariants_and_seals_nothing(
    funded: TestClient,
) -> None:
    store: Store = funded.app.state.store  # type: ignore[attr-defined]
    assert _chained(store) == 0

    response = funded.get("/v1/verify")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    assert _journal(body) == {"chain": "journal", "verified": 0, "first_break": None}
    assert body["violations"] == []
    assert _chained(store) == 0  # verify wrote nothing
    chain.seal_all(store)
    assert _journal(funded.get("/v1/verify").json())["verified"] == 3


def test_the_background_sweeper_seals_new_entries_into_the_chain(
    database_url: str, clock: Clock
) -> None:
    store = Store(create_ledger_engine(database_url, sqlite_synchronous="NORMAL"), clock=clock)
    settings = Settings(database_url=database_url, expiry_sweep_seconds=0.02, four_eyes=frozenset())
    app = create_app(settings, store=store, sweep_expired_holds=True)
    with TestClient(app) as sweeping:
        sweeping.headers.update(headers_for(sweeping, "regulator"))
        seed_registry(sweeping)
        post_entry(sweeping, transfer("fund", "ISSUANCE", "E01", "10"))

        give_up = time.monotonic() + 5
        while _chained(store) < 1:
            assert time.monotonic() < give_up, "the sweeper never sealed the entry"
            time.sleep(0.02)

        assert _journal(sweeping.get("/v1/verify").json())["verified"] == 1


def _journal(report: dict[str, Any]) -> Any:
    return next(verdict for verdict in report["chains"] if verdict["chain"] == "journal")


def _chained(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM journal_chain")).scalar_one())
