"""Finance over HTTP: exports round-trip (the XLSX and CSV totals equal the API's JSON totals),
period close and its refusal code, statement import and reconciliation by the finance role
(every create safely retried), the public market report without a token, and who sees what."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.api.support import (
    CNY,
    REPLAYED,
    SO2,
    Json,
    assert_problem,
    headers_for,
    post_entry,
    transfer,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def finance(funded: TestClient) -> dict[str, str]:
    post_entry(funded, transfer("move-so2", "E01", "E02", "30.500"))
    post_entry(
        funded,
        transfer(
            "back-dated", "ISSUANCE", "E02", "12.25", CNY, effective_at="2026-03-10T02:00:00Z"
        ),
    )
    return headers_for(funded, "finance")


def csv_totals(text: str) -> dict[str, Decimal]:
    rows = list(csv.reader(io.StringIO(text)))
    header, total = rows[0], rows[-1]
    assert total[0] == "total"
    return {
        name: Decimal(value)
        for name, value in zip(header, total, strict=True)
        if value and name != header[0]
    }


def xlsx_totals(content: bytes) -> dict[str, Decimal]:
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    assert sheet is not None
    rows: list[tuple[Any, ...]] = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    header, total = rows[0], rows[-1]
    assert total[0] == "total"
    return {
        str(name): Decimal(str(value))
        for name, value in zip(header, total, strict=True)
        if value is not None and name != header[0]
    }


@pytest.mark.parametrize(("instrument", "path"), [(SO2, "trial-balance"), (CNY, "trial-balance")])
def test_xlsx_and_csv_totals_equal_the_json_totals(
    funded: TestClient, finance: dict[str, str], instrument: str, path: str
) -> None:
    params = {"instrument": instrument}
    reply = funded.get(f"/v1/finance/{path}", params=params, headers=finance)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    expected = {name: Decimal(value) for name, value in body["totals"].items()}
    assert expected["debit"] == expected["credit"] > 0

    as_csv = funded.get(f"/v1/finance/{path}", params={**params, "format": "csv"}, headers=finance)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert csv_totals(as_csv.text) == expected

    as_xlsx = funded.get(f"/v1/finance/{path}", params=params, headers={**finance, "accept": XLSX})
    assert as_xlsx.headers["content-type"] == XLSX
    assert xlsx_totals(as_xlsx.content) == expected
    assert sum(Decimal(row["debit"]) for row in body["rows"]) == expected["debit"]


def test_a_statement_has_running_balances_and_its_totals_round_trip(
    funded: TestClient, finance: dict[str, str]
) -> None:
    funded.post(
        "/v1/accounts",
        json={
            "code": "E02:cash",
            "party": "E02",
            "name": "cash",
            "normal_side": "credit",
            "non_negative": True,
        },
    )
    reply = funded.get(
        "/v1/finance/trial-balance",
        params={"instrument": CNY, "as_of": "2026-03-31"},
        headers=finance,
    )
    rows = {row["account"]: row for row in reply.json()["rows"]}
    assert rows["E02"]["credit"] == "12.25" and "E01" not in rows  # as of March: back-dated only


def test_an_entry_into_a_closed_period_is_refused_with_its_code_over_http(
    funded: TestClient, finance: dict[str, str]
) -> None:
    closed = funded.post("/v1/periods/2026-03/close", json={"reason": "month end"}, headers=finance)
    assert closed.status_code == 200, closed.text
    assert closed.json()["entries_at_close"] == 1
    late = transfer("late", "ISSUANCE", "E02", "1.00", CNY, effective_at="2026-03-20T02:00:00Z")
    problem = assert_problem(funded.post("/v1/entries", json=late), 422, "period_closed")
    assert "2026-03" in problem["detail"]
    assert funded.post("/v1/periods/2026-03/close").status_code == 403  # regulator: not finance
    reopen = funded.post(
        "/v1/periods/2026-03/reopen",
        json={"id": "reopen-1", "reason": "bank correction"},
        headers=finance,
    )
    assert reopen.status_code == 202, reopen.text
    assert reopen.json()["operation"] == "period_reopen"


STATEMENT = "date,reference,amount,counterparty,description\n2026-03-10,back-dated,12.25,HB,x\n"


def import_statement(client: TestClient, headers: dict[str, str], **params: str) -> Any:
    return client.post(
        "/v1/statement-imports",
        params={"account": "E02", "source": "bank", **params},
        content=STATEMENT.encode(),
        headers={**headers, "content-type": "text/csv"},
    )


def test_finance_imports_and_reconciles_a_bank_statement(
    funded: TestClient, finance: dict[str, str]
) -> None:
    first = import_statement(funded, finance)
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers

    started = funded.post(
        "/v1/reconciliations", json={"import_id": first.json()["import_id"]}, headers=finance
    )
    assert started.status_code == 201, started.text
    report = started.json()
    assert [m["method"] for m in report["matches"]] == ["reference"]
    assert report["unmatched_lines"] == [] and report["unmatched_postings"] == []

    rid = report["reconciliation_id"]
    confirmed = funded.post(f"/v1/reconciliations/{rid}/confirm", headers=finance)
    assert confirmed.json()["confirmed_by"] == "finance-all"
    assert_problem(
        funded.post(f"/v1/reconciliations/{rid}/confirm", headers=finance),
        409,
        "reconciliation_confirmed",
    )


def assert_replayed(first: Any, again: Any) -> None:
    """An identical retry: the first answer's status and body, marked as a replay."""
    assert (again.status_code, again.headers.get(REPLAYED)) == (201, "true"), again.text
    assert again.json() == first.json()


def test_every_finance_create_answers_a_retry_with_the_stored_record(
    funded: TestClient, finance: dict[str, str]
) -> None:
    first = import_statement(funded, finance)
    assert_replayed(first, import_statement(funded, finance, filename="copy.csv"))
    assert_problem(
        import_statement(funded, finance, source="exchange"),
        409,
        "record_exists_with_different_definition",
        "source",
    )

    body: Json = {"import_id": first.json()["import_id"], "amount_tolerance_fen": 0}
    started = funded.post("/v1/reconciliations", json=body, headers=finance)
    assert_replayed(started, funded.post("/v1/reconciliations", json=body, headers=finance))
    changed = {**body, "date_tolerance_days": 3}
    assert_problem(
        funded.post("/v1/reconciliations", json=changed, headers=finance),
        409,
        "record_exists_with_different_definition",
        "import_id",
    )

    rid = started.json()["reconciliation_id"]
    (auto,) = started.json()["matches"]
    funded.post(
        f"/v1/reconciliations/{rid}/matches/{auto['match_id']}/unmatch",
        json={"reason": "check by hand"},
        headers=finance,
    )
    path = f"/v1/reconciliations/{rid}/matches"
    match: Json = {
        "id": "m-1",
        "lines": auto["lines"],
        "postings": auto["postings"],
        "reason": "ok",
    }
    made = funded.post(path, json=match, headers=finance)
    assert made.status_code == 201 and REPLAYED not in made.headers, made.text
    assert [m["id"] for m in made.json()["matches"]] == ["m-1"]
    assert_replayed(made, funded.post(path, json=match, headers=finance))
    assert_problem(
        funded.post(path, json={**match, "reason": "other"}, headers=finance),
        409,
        "record_exists_with_different_definition",
        "id",
    )


def test_a_party_report_of_another_enterprise_is_the_404_of_an_unknown_party(
    funded: TestClient,
) -> None:
    for code in ("E01", "E02"):
        registered = funded.post(
            "/v1/parties", json={"code": code, "kind": "enterprise", "name": code}
        )
        assert registered.status_code == 201, registered.text
    e01 = headers_for(funded, "enterprise", party="E01")
    for report in ("holdings", "statement?from=2026-01-01&to=2026-12-31"):
        own = funded.get(f"/v1/finance/parties/E01/{report}", headers=e01)
        assert own.status_code == 200, own.text
        other = assert_problem(
            funded.get(f"/v1/finance/parties/E02/{report}", headers=e01), 404, "party_not_found"
        )
        unknown = assert_problem(
            funded.get(f"/v1/finance/parties/E99/{report}", headers=e01), 404, "party_not_found"
        )
        assert other == {**unknown, "detail": unknown["detail"].replace("E99", "E02")}


def test_a_malformed_statement_is_refused_with_line_numbers(
    funded: TestClient, finance: dict[str, str]
) -> None:
    statement = "date,reference,amount,counterparty,description\n2026-03-32,R,1.00,A,x\n"
    reply = funded.post(
        "/v1/statement-imports",
        params={"account": "E02"},
        content=statement.encode(),
        headers={**finance, "content-type": "text/csv"},
    )
    problem = assert_problem(reply, 422, "statement_invalid", "line 2")
    assert "malformed date" in problem["detail"]


def test_the_market_report_is_public(funded: TestClient) -> None:
    reply = funded.get(
        "/v1/market-report",
        params={"from": "2026-01-01", "to": "2026-12-31"},
        headers={"Authorization": ""},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["rows"] == []
