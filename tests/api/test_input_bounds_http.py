"""Inputs that used to answer a plain-text 500, one regression test each, on SQLite and
PostgreSQL: integers beyond their column, dates and instants outside the documented range
(2000-01-01 to 2100-12-31), NUL and unpaired surrogates in a query, a path, a body, metadata or an
imported file. Each answers a 4xx problem+json naming the field, and changes nothing (the
autouse fixture checks the invariants afterwards); the ends of the range are accepted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.support import assert_problem, headers_for, post_entry, transfer
from tests.integration.monitoring_support import build_outlets

BEYOND_BIGINT = str(2**63)
BEYOND_INTEGER = str(2**31)


@pytest.fixture
def finance(funded: TestClient) -> dict[str, str]:
    return headers_for(funded, "finance")


@pytest.fixture
def outlets(client: TestClient) -> dict[str, str]:
    """E1's outlets, and the headers of an E1 clerk."""
    build_outlets(client.app.state.store)  # type: ignore[attr-defined]
    return headers_for(client, "enterprise", party="E1")


def report(line: dict[str, Any]) -> dict[str, Any]:
    """A draft report of one agency-measured line (changes in `line`)."""
    return {
        "enterprise": "E1",
        "period": "2025-03",
        "from_monitoring": False,
        "lines": [
            {
                "month": "2025-03",
                "outlet": "SINTER-1",
                "pollutant": "SO2",
                "method": "agency",
                "mass_kg": "100",
                **line,
            }
        ],
    }


def cems_record(**changes: Any) -> dict[str, Any]:
    record = {
        "enterprise": "E1",
        "outlet": "SINTER-1",
        "pollutant": "SO2",
        "hour_start": "2025-03-01T00:00+08:00",
        "concentration_mg_nm3": "20",
        "dry_flow_nm3_h": "1000000",
        "o2_percent": "16",
        "valid_minutes": 60,
        "flag": "N",
    }
    return {"records": [record | changes]}


def post_json(client: TestClient, path: str, body: Any) -> Any:
    """POST `body` as JSON with every non-ASCII character escaped (`\\ud800` stays an escape)."""
    headers = {"content-type": "application/json"}
    return client.post(path, content=json.dumps(body).encode(), headers=headers)


def statement_import(client: TestClient, headers: dict[str, str], lines: str) -> Any:
    return client.post(
        "/v1/statement-imports",
        params={"account": "E02", "source": "bank"},
        content=("date,reference,amount,counterparty,description\n" + lines).encode(),
        headers={**headers, "content-type": "text/csv"},
    )


# -- integers beyond their column ---------------------------------------------------------------


@pytest.mark.parametrize("period", [BEYOND_BIGINT, BEYOND_INTEGER, "0", "-1"])
def test_an_obligation_period_outside_the_years_is_refused(client: TestClient, period: str) -> None:
    assert_problem(
        client.get("/v1/obligations", params={"period": period}), 422, "invalid_field", "period"
    )


def test_an_audit_log_cursor_beyond_bigint_is_refused(client: TestClient) -> None:
    reply = client.get("/v1/audit-log", params={"after": BEYOND_BIGINT})
    assert_problem(reply, 422, "invalid_field", "after")


def test_a_report_line_with_more_exceedances_than_a_month_has_hours_is_refused(
    client: TestClient, outlets: dict[str, str]
) -> None:
    reply = client.post("/v1/reports", json=report({"exceedances": 2**31}), headers=outlets)
    assert_problem(reply, 422, "invalid_field", "lines[0].exceedances")


def test_a_report_line_with_a_40_digit_mass_is_refused(
    client: TestClient, outlets: dict[str, str]
) -> None:
    """Its tax used to overflow only when a return was filed on it."""
    reply = client.post("/v1/reports", json=report({"mass_kg": "1" + "0" * 39}), headers=outlets)
    assert_problem(reply, 422, "invalid_field", "lines[0].mass_kg")


def test_an_integer_beyond_bigint_in_a_body_is_refused(
    client: TestClient, outlets: dict[str, str]
) -> None:
    network = headers_for(client, "cems_network")  # CEMS data come from the network
    reply = client.post("/v1/cems/records", json=cems_record(valid_minutes=2**64), headers=network)
    assert_problem(reply, 422, "invalid_field", "records[0].valid_minutes")


# -- dates and instants outside the range ---------------------------------------------------------


def test_cems_months_from_year_0_are_refused(client: TestClient) -> None:
    reply = client.get("/v1/cems/months", params={"from": "0000-01", "to": "2025-01"})
    assert_problem(reply, 422, "date_out_of_range", "from")


@pytest.mark.parametrize("path", ["holdings", "statement"])
def test_holdings_and_statements_as_of_the_last_day_of_9999_are_refused(
    funded: TestClient, finance: dict[str, str], path: str
) -> None:
    params = (
        {"as_of": "9999-12-31"}
        if path == "holdings"
        else {"from": "2026-01-01", "to": "9999-12-31"}
    )
    reply = funded.get(f"/v1/finance/parties/E01/{path}", params=params, headers=finance)
    assert_problem(reply, 422, "date_out_of_range", "as_of" if path == "holdings" else "to")


def test_a_statement_from_year_1_is_refused(funded: TestClient, finance: dict[str, str]) -> None:
    params = {"from": "0001-01-01", "to": "2026-12-31"}
    reply = funded.get("/v1/finance/parties/E01/statement", params=params, headers=finance)
    assert_problem(reply, 422, "date_out_of_range", "from")


@pytest.mark.parametrize("path", ["supply", "trial-balance"])
def test_supply_and_trial_balance_as_of_9999_are_refused(
    funded: TestClient, finance: dict[str, str], path: str
) -> None:
    params = {"as_of": "9999-12-31", "instrument": "SO2-2026"}
    reply = funded.get(f"/v1/finance/{path}", params=params, headers=finance)
    assert_problem(reply, 422, "date_out_of_range", "as_of")


@pytest.mark.parametrize("as_of", ["2000-01-01", "2100-12-31"])
def test_the_ends_of_the_range_are_answered(
    funded: TestClient, finance: dict[str, str], as_of: str
) -> None:
    for path in ("supply", "trial-balance"):
        params = {"as_of": as_of, "instrument": "SO2-2026"}
        reply = funded.get(f"/v1/finance/{path}", params=params, headers=finance)
        assert reply.status_code == 200, reply.text


def test_a_report_line_of_month_0000_01_is_refused(
    client: TestClient, outlets: dict[str, str]
) -> None:
    reply = client.post("/v1/reports", json=report({"month": "0000-01"}), headers=outlets)
    assert_problem(reply, 422, "date_out_of_range", "lines[0].month")


def test_a_cems_hour_beyond_year_9999_in_utc_is_refused(
    client: TestClient, outlets: dict[str, str]
) -> None:
    record = cems_record(hour_start="9999-12-31T23:00-14:00")
    problem = assert_problem(
        client.post("/v1/cems/records", json=record, headers=headers_for(client, "cems_network")),
        422,
        "cems_import_refused",
    )
    assert problem["errors"][0]["field"] == "records[0].hour_start"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00Z", "2101-01-01T00:00:00Z"])
def test_an_entry_effective_outside_the_range_is_refused(funded: TestClient, moment: str) -> None:
    body = transfer("far", "E01", "E02", "1", effective_at=moment)
    assert_problem(funded.post("/v1/entries", json=body), 422, "date_out_of_range", "effective_at")


def test_an_entry_effective_at_the_ends_of_the_range_is_booked(funded: TestClient) -> None:
    post_entry(funded, transfer("first", "E01", "E02", "1", effective_at="2000-01-01T00:00:00Z"))
    post_entry(funded, transfer("last", "E01", "E02", "1", effective_at="2100-12-31T23:59:59Z"))


def test_an_imported_statement_line_dated_9999_12_31_is_refused(
    funded: TestClient, finance: dict[str, str]
) -> None:
    """Reconciling it used to overflow the matching window."""
    reply = statement_import(funded, finance, "9999-12-31,R,1.00,A,x\n")
    problem = assert_problem(reply, 422, "statement_invalid")
    assert "line 2" in problem["detail"]


# -- text the databases cannot store -------------------------------------------------------------


@pytest.mark.parametrize("text", ["\x00", "a\x00b"])
def test_a_nul_in_a_query_filter_is_refused(client: TestClient, text: str) -> None:
    reply = client.get("/v1/accounts", params={"party": text})
    assert_problem(reply, 422, "text_not_storable", "party")


def test_a_nul_in_the_path_is_refused_after_authentication(client: TestClient) -> None:
    assert_problem(client.get("/v1/entries/a%00b"), 422, "text_not_storable", "entry_id")
    garbage = {"Authorization": "Bearer elt_garbage_token"}
    reply = client.get("/v1/entries/a%00b", headers=garbage)
    assert_problem(reply, 401, "unauthenticated")


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfff"])
def test_nul_or_an_unpaired_surrogate_in_metadata_is_refused(funded: TestClient, text: str) -> None:
    body = transfer("odd", "E01", "E02", "1", metadata={"note": text})
    reply = post_json(funded, "/v1/entries", body)
    assert_problem(reply, 422, "text_not_storable", "metadata.note")


def test_nul_in_a_metadata_key_is_refused(funded: TestClient) -> None:
    body = transfer("odd", "E01", "E02", "1", metadata={"no\x00te": "x"})
    reply = funded.post("/v1/entries", json=body)
    assert_problem(reply, 422, "text_not_storable", "metadata.no\x00te")


def test_nul_in_an_imported_statement_is_refused(
    funded: TestClient, finance: dict[str, str]
) -> None:
    reply = statement_import(funded, finance, "2026-03-10,R\x00,1.00,A,x\n")
    problem = assert_problem(reply, 422, "statement_invalid")
    assert "line 2" in problem["detail"]


def test_an_astral_character_is_stored_like_any_other(funded: TestClient) -> None:
    """A valid surrogate pair (an emoji in a JSON escape) is text, not an unpaired surrogate."""
    body = transfer("emoji", "E01", "E02", "1", metadata={"note": "河北 \U0001f3ed"})
    entry = post_entry(funded, body)
    assert entry["metadata"] == {"note": "河北 \U0001f3ed"}
