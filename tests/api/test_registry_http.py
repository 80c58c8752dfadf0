"""Instruments and accounts over HTTP: register, open, list page by page, freeze, close."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.support import (
    CEA,
    INSTRUMENTS,
    SO2,
    account_body,
    assert_problem,
    assert_refused,
    balance,
    post_entry,
    transfer,
)


def test_registering_an_instrument_answers_201_with_its_definition(client: TestClient) -> None:
    response = client.post("/v1/instruments", json=INSTRUMENTS[0])

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.json() == INSTRUMENTS[0]
    assert client.get(f"/v1/instruments/{SO2}").json() == INSTRUMENTS[0]


def test_registering_the_same_instrument_again_answers_200(client: TestClient) -> None:
    client.post("/v1/instruments", json=INSTRUMENTS[0])

    response = client.post("/v1/instruments", json=INSTRUMENTS[0])

    assert response.status_code == 200
    assert response.json() == INSTRUMENTS[0]
    assert client.get("/v1/instruments").json() == [INSTRUMENTS[0]]


def test_registering_an_instrument_with_another_scale_is_a_conflict(client: TestClient) -> None:
    client.post("/v1/instruments", json=INSTRUMENTS[0])

    response = client.post("/v1/instruments", json={**INSTRUMENTS[0], "scale": 2})

    assert_problem(response, 409, "instrument_exists_with_different_definition", "code")
    assert client.get(f"/v1/instruments/{SO2}").json()["scale"] == 3


def test_a_cash_instrument_must_have_scale_two(client: TestClient) -> None:
    response = client.post("/v1/instruments", json={**INSTRUMENTS[2], "scale": 3})

    assert_problem(response, 422, "invalid_field", "scale")
    assert client.get("/v1/instruments").json() == []


def test_an_unknown_instrument_in_the_path_is_404(client: TestClient) -> None:
    assert_problem(client.get("/v1/instruments/NOPE"), 404, "instrument_not_found")


def test_opening_an_account_answers_201_with_its_flags(ledger: TestClient) -> None:
    response = ledger.post("/v1/accounts", json=account_body("E03"))

    assert response.status_code == 201
    assert response.json() == {
        **account_body("E03"),
        "instrument": None,
        "frozen": False,
        "closed": False,
    }
    assert ledger.get("/v1/accounts/E03").json() == response.json()


def test_opening_the_same_account_again_answers_200(ledger: TestClient) -> None:
    response = ledger.post("/v1/accounts", json=account_body("E01"))

    assert response.status_code == 200
    assert response.json()["code"] == "E01"


def test_opening_an_account_with_another_definition_is_a_conflict(ledger: TestClient) -> None:
    assert_refused(
        ledger,
        "/v1/accounts",
        account_body("E01", non_negative=False),
        409,
        "account_exists_with_different_definition",
        "code",
    )


def test_an_account_restricted_to_an_unknown_instrument_is_refused(ledger: TestClient) -> None:
    assert_refused(
        ledger,
        "/v1/accounts",
        account_body("E09", instrument="NOPE"),
        422,
        "unknown_instrument",
        "instrument",
    )
    assert_problem(ledger.get("/v1/accounts/E09"), 404, "account_not_found", "code")


def test_an_account_restricted_to_one_instrument_refuses_another(ledger: TestClient) -> None:
    post_response = ledger.post("/v1/accounts", json=account_body("CEAONLY", instrument=CEA))
    assert post_response.status_code == 201

    problem = assert_refused(
        ledger,
        "/v1/entries",
        transfer("wrong-instrument", "ISSUANCE", "CEAONLY", "1"),
        422,
        "instrument_mismatch",
    )
    assert "field" in problem


def test_an_unknown_account_in_the_path_is_404(ledger: TestClient) -> None:
    for path in (
        "/v1/accounts/NOPE",
        "/v1/accounts/NOPE/balances",
        f"/v1/accounts/NOPE/balances/{SO2}",
        f"/v1/accounts/NOPE/statement?instrument={SO2}",
    ):
        assert_problem(ledger.get(path), 404, "account_not_found", "code")
    for action in ("freeze", "unfreeze", "close"):
        assert_problem(ledger.post(f"/v1/accounts/NOPE/{action}"), 404, "account_not_found")


def test_accounts_are_listed_page_by_page_following_the_cursor(ledger: TestClient) -> None:
    for code in ("E03", "E04"):
        assert ledger.post("/v1/accounts", json=account_body(code)).status_code == 201

    pages = []
    cursor = None
    while True:
        params = {"limit": "2"} if cursor is None else {"limit": "2", "cursor": cursor}
        response = ledger.get("/v1/accounts", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append([account["code"] for account in page["accounts"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == [["ISSUANCE", "E01"], ["E02", "E03"], ["E04"]]


def test_accounts_can_be_listed_for_one_party(ledger: TestClient) -> None:
    response = ledger.get("/v1/accounts", params={"party": "E02"})

    assert [account["code"] for account in response.json()["accounts"]] == ["E02"]
    assert response.json()["next_cursor"] is None


def test_a_frozen_account_refuses_debits_until_unfrozen(funded: TestClient) -> None:
    frozen = funded.post("/v1/accounts/E01/freeze")
    assert frozen.status_code == 200
    assert frozen.json()["frozen"] is True

    assert_refused(funded, "/v1/entries", transfer("t1", "E01", "E02", "1"), 422, "account_frozen")

    unfrozen = funded.post("/v1/accounts/E01/unfreeze")
    assert unfrozen.json()["frozen"] is False
    post_entry(funded, transfer("t1", "E01", "E02", "1"))
    assert balance(funded, "E02")["balance"] == "1.000"


def test_a_frozen_account_still_accepts_credits(funded: TestClient) -> None:
    funded.post("/v1/accounts/E02/freeze")

    post_entry(funded, transfer("t1", "E01", "E02", "1"))

    assert balance(funded, "E02")["balance"] == "1.000"


def test_closing_an_empty_account_stops_all_postings_to_it(funded: TestClient) -> None:
    closed = funded.post("/v1/accounts/E02/close")
    assert closed.status_code == 200
    assert closed.json()["closed"] is True

    assert_refused(funded, "/v1/entries", transfer("t1", "E01", "E02", "1"), 422, "account_closed")
    assert funded.get("/v1/accounts/E02").json()["closed"] is True


def test_closing_an_account_that_holds_value_is_a_conflict(funded: TestClient) -> None:
    response = funded.post("/v1/accounts/E01/close")

    assert_problem(response, 409, "account_not_empty", "code")
    assert funded.get("/v1/accounts/E01").json()["closed"] is False


def test_closing_an_account_with_only_a_hold_against_it_is_a_conflict(funded: TestClient) -> None:
    post_entry(funded, transfer("hold", "E01", "E02", "5"), "/v1/pending-entries")

    assert_problem(funded.post("/v1/accounts/E02/close"), 409, "account_not_empty", "code")
    assert funded.get("/v1/accounts/E02").json()["closed"] is False
