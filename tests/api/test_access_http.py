"""Credentials, separation of duties, four-eyes approval and the audit log over HTTP (SQLite and
PostgreSQL).

- Credentials: a principal's token comes only from redeeming an enrolment code whose halves two
  administrators were shown; tokens are shown once, refused when revoked, expired or of a
  deactivated principal, never in logs or later responses.
- Separation of duties: an administrator alone can get no credential and pass no four-eyes.
- Four-eyes: a configured operation becomes a pending request; the initiator cannot approve
  it, an expired request cannot be approved, and an approval applies exactly once (racing
  approvers: tests/integration/test_four_eyes.py).
- Audit: every write and every refusal is recorded with its principal and token id; the
  database refuses to edit the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api import auth
from api.app import create_app
from ledger.domain.access import FOUR_EYES_DEFAULT
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.settings import Settings
from tests.api.support import Clock, Json, assert_problem, headers_for, transfer


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return headers_for(client, "administrator")


@pytest.fixture
def admin_2(client: TestClient) -> dict[str, str]:
    return headers_for(client, "administrator", principal="administrator-2")


def _with_four_eyes(client: TestClient) -> TestClient:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    store.four_eyes = FOUR_EYES_DEFAULT
    return client


@pytest.fixture
def four_eyes(funded: TestClient) -> TestClient:
    """The funded ledger with four-eyes on for its default operations."""
    return _with_four_eyes(funded)


def _enrol(
    client: TestClient, principal: str, asking: dict[str, str], approving: dict[str, str]
) -> Json:
    """Two administrators enrol `principal`; it redeems the whole code: the issued token."""
    asked = client.post(f"/v1/principals/{principal}/enrolments", headers=asking)
    assert asked.status_code == 202, asked.text
    approved = client.post(f"/v1/approvals/{asked.json()['id']}/approve", headers=approving)
    assert approved.status_code == 200, approved.text
    code = f"{asked.json()['code_part']}.{approved.json()['result']['code_part']}"
    redeemed = client.post("/v1/enrolments/redeem", json={"principal": principal, "code": code})
    assert redeemed.status_code == 201, redeemed.text
    issued: Json = redeemed.json()
    return issued


def test_a_token_is_shown_once_and_works_until_revoked(
    client: TestClient,
    admin: dict[str, str],
    admin_2: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    created = client.post(
        "/v1/principals",
        json={"id": "ops-bot", "name": "Settlement bot", "role": "finance", "kind": "service"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    issued = _enrol(client, "ops-bot", admin, admin_2)
    bearer = {"Authorization": f"Bearer {issued['token']}"}

    me = client.get("/v1/me", headers=bearer)
    listed = client.get("/v1/principals/ops-bot", headers=admin)
    revoked = client.post(f"/v1/tokens/{issued['id']}/revoke", headers=admin)
    after = client.get("/v1/me", headers=bearer)

    assert me.json()["id"] == "ops-bot"
    assert [t["id"] for t in listed.json()["tokens"]] == [issued["id"]]
    assert issued["token"] not in listed.text + revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert (after.status_code, after.json()["code"]) == (401, "unauthenticated")
    assert issued["token"] not in caplog.text
    assert issued["id"] in caplog.text  # the failure is logged by token id


def test_a_token_revoked_elsewhere_stops_working_within_a_second(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process (a second worker, the shell) revokes a token: this server's cache of
    verified tokens does not hear of it, and still refuses the token within one second."""
    bearer = headers_for(client, "verifier")
    assert client.get("/v1/me", headers=bearer).status_code == 200  # verified, now cached
    token_id = bearer["Authorization"].split("_")[1]  # elt_<id>_<secret>
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    with store() as uow:  # as another process would: this server's cache is not told
        uow.access.revoke_token(token_id, uow.now())
        uow.commit()
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + auth.TOKEN_CACHE_SECONDS + 0.001)

    refused = client.get("/v1/me", headers=bearer)

    assert auth.TOKEN_CACHE_SECONDS <= 1.0
    assert refused.status_code == 401
    client.headers.update(headers_for(client, "regulator"))  # a fresh token for the teardown


def test_an_expired_token_is_refused(client: TestClient, clock: Clock) -> None:
    bearer = headers_for(client, "verifier")
    assert client.get("/v1/me", headers=bearer).status_code == 200

    clock.advance(timedelta(days=91))
    client.app.state.tokens.clear()  # type: ignore[attr-defined]  # cache entries live 1 s

    assert client.get("/v1/me", headers=bearer).status_code == 401
    client.headers.update(headers_for(client, "regulator"))  # a fresh token for the teardown


def test_a_deactivated_principal_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    bearer = headers_for(client, "verifier")

    client.post("/v1/principals/verifier-all/deactivate", headers=admin)

    assert client.get("/v1/me", headers=bearer).status_code == 401


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Basic dXNlcjpwdw==", "Bearer elt_000000000000_guess", "Bearer x" * 3],
)
def test_missing_or_forged_tokens_are_refused(client: TestClient, header: str) -> None:
    response = client.get("/v1/accounts", headers={"Authorization": header})

    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")


def test_a_scoped_role_needs_its_party(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/principals", json={"id": "lost", "name": "x", "role": "enterprise"}, headers=admin
    )

    assert (response.status_code, response.json()["field"]) == (422, "party")


def test_an_enterprise_may_not_act_as_another_party(registry_parties: TestClient) -> None:
    e1 = headers_for(registry_parties, "enterprise", party="E1")
    body = {
        "id": "X1",
        "seller": "E2",
        "buyer": "E1",
        "proposer": "E2",
        "family": "SO2",
        "quantity": "1",
        "price_cny_per_t": "6000",
        "trade_date": "2026-03-01",
    }

    response = registry_parties.post("/v1/trades", json=body, headers=e1)

    assert (response.status_code, response.json()["code"]) == (403, "actor_mismatch")


@pytest.fixture
def registry_parties(client: TestClient) -> TestClient:
    for body in (
        {"code": "E1", "kind": "enterprise", "name": "E1", "city": "Tangshan"},
        {"code": "E2", "kind": "enterprise", "name": "E2", "city": "Tangshan"},
    ):
        assert client.post("/v1/parties", json=body).status_code == 201
    return client


# -- four-eyes ------------------------------------------------------------------------------


def test_a_reversal_waits_for_a_second_regulator_and_applies_once(four_eyes: TestClient) -> None:
    first = headers_for(four_eyes, "regulator", principal="reg-a")
    second = headers_for(four_eyes, "regulator", principal="reg-b")
    before = four_eyes.get("/v1/accounts/E01/balances/SO2-2026").json()["balance"]

    asked = four_eyes.post(
        "/v1/entries/fund-so2/reverse", json={"entry_id": "undo-fund"}, headers=first
    )
    pending = asked.json()
    untouched = four_eyes.get("/v1/accounts/E01/balances/SO2-2026").json()["balance"]
    self_approved = four_eyes.post(f"/v1/approvals/{pending['id']}/approve", headers=first)
    approved = four_eyes.post(f"/v1/approvals/{pending['id']}/approve", headers=second)
    again = four_eyes.post(f"/v1/approvals/{pending['id']}/approve", headers=second)

    assert (asked.status_code, pending["state"], pending["initiator"]) == (202, "pending", "reg-a")
    assert untouched == before == "1500.000"
    assert (self_approved.status_code, self_approved.json()["code"]) == (422, "self_approval")
    assert (approved.status_code, approved.json()["state"]) == (200, "applied")
    assert approved.json()["result"]["entry"]["entry_id"] == "undo-fund"
    assert four_eyes.get("/v1/accounts/E01/balances/SO2-2026").json()["balance"] == "0.000"
    assert (again.status_code, again.json()["code"]) == (409, "approval_already_decided")


def test_an_expired_request_cannot_be_approved(four_eyes: TestClient, clock: Clock) -> None:
    first = headers_for(four_eyes, "regulator", principal="reg-a")
    second = headers_for(four_eyes, "regulator", principal="reg-b")
    pending = four_eyes.post(
        "/v1/entries/fund-cny/reverse", json={"entry_id": "undo-cny"}, headers=first
    ).json()

    clock.advance(timedelta(days=4))
    four_eyes.app.state.tokens.clear()  # type: ignore[attr-defined]
    late = four_eyes.post(f"/v1/approvals/{pending['id']}/approve", headers=second)

    assert (late.status_code, late.json()["code"]) == (409, "approval_expired")
    assert four_eyes.get("/v1/accounts/E01/balances/CNY").json()["balance"] == "10000.00"


def test_a_rejected_request_never_applies(four_eyes: TestClient) -> None:
    first = headers_for(four_eyes, "regulator", principal="reg-a")
    second = headers_for(four_eyes, "regulator", principal="reg-b")
    pending = four_eyes.post(
        "/v1/entries/fund-cea/reverse", json={"entry_id": "undo-cea"}, headers=first
    ).json()

    rejected = four_eyes.post(
        f"/v1/approvals/{pending['id']}/reject", json={"reason": "no basis"}, headers=second
    )
    approved = four_eyes.post(f"/v1/approvals/{pending['id']}/approve", headers=first)

    assert rejected.json()["state"] == "rejected"
    assert approved.status_code == 409
    assert four_eyes.get("/v1/accounts/E01/balances/CEA-2025").json()["balance"] == "1000"


def test_only_the_requesting_authority_may_decide(four_eyes: TestClient) -> None:
    first = headers_for(four_eyes, "regulator", principal="reg-a")
    pending = four_eyes.post(
        "/v1/entries/fund-so2/reverse", json={"entry_id": "undo-so2"}, headers=first
    ).json()
    finance = headers_for(four_eyes, "finance")

    response = four_eyes.post(f"/v1/approvals/{pending['id']}/approve", headers=finance)

    # Another authority's requests do not exist for finance staff.
    assert (response.status_code, response.json()["code"]) == (404, "approval_request_not_found")


# -- audit log ------------------------------------------------------------------------------


def test_writes_and_refusals_are_audited_with_principal_and_token(
    funded: TestClient, admin: dict[str, str]
) -> None:
    bearer = headers_for(funded, "regulator", principal="auditee")
    token_id = bearer["Authorization"].split("_")[1]
    posted = funded.post("/v1/entries", json=transfer("a-1", "E01", "E02", "1"), headers=bearer)
    refused = funded.post("/v1/entries", json=transfer("a-2", "E02", "E01", "99"), headers=bearer)
    denied = funded.post("/v1/principals", json={}, headers=bearer)

    log = funded.get("/v1/audit-log", params={"principal": "auditee"}, headers=admin).json()

    lines = [(r["action"], r["target"], r["outcome"], r["code"]) for r in log["records"]]
    assert (posted.status_code, refused.status_code, denied.status_code) == (201, 422, 403)
    assert lines == [
        ("entries.post", "POST /v1/entries", "ok", None),
        ("entries.post", "POST /v1/entries", "rejected", "insufficient_balance"),
        ("principals.create", "POST /v1/principals", "denied", "forbidden"),
    ]
    assert {r["token_id"] for r in log["records"]} == {token_id}


def test_the_database_refuses_to_edit_the_audit_log(funded: TestClient) -> None:
    store: Store = funded.app.state.store  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="audit"), store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET outcome = 'ok'"))


def test_a_nul_in_a_principal_name_is_refused_as_input(
    client: TestClient, admin: dict[str, str]
) -> None:
    # PostgreSQL cannot store NUL: refused at the edge with the field named, never a 500.
    body = {"id": "nul-bot", "name": "bot\x00", "role": "finance", "kind": "service"}
    response = client.post("/v1/principals", json=body, headers=admin)
    assert_problem(response, 422, "text_not_storable", "name")


def test_an_allocation_needs_four_eyes_only_above_the_threshold(
    registry_parties: TestClient,
) -> None:
    client = registry_parties
    authority = {"code": "HEBEI", "kind": "authority", "name": "Hebei"}
    assert client.post("/v1/parties", json=authority).status_code == 201
    _with_four_eyes(client)
    regulator = headers_for(client, "regulator", principal="reg-a")
    body = {"party": "E1", "pollutant": "SO2", "first_vintage": 2026, "permit": "P-E1"}

    at_threshold = {**body, "id": "A1", "quantity_t_per_year": "1000"}
    above = {**body, "id": "A2", "quantity_t_per_year": "1000.001"}

    assert client.post("/v1/entitlements", json=at_threshold, headers=regulator).status_code == 201
    pending = client.post("/v1/entitlements", json=above, headers=regulator)
    assert (pending.status_code, pending.json()["state"]) == (202, "pending")


# -- separation of duties: what one administrator alone cannot do ---------------------------


@pytest.fixture
def regulators(registry_parties: TestClient, admin: dict[str, str]) -> TestClient:
    """Two regulator principals of the province, created by an administrator, no credential."""
    authority = {"code": "HEBEI", "kind": "authority", "name": "Hebei"}
    assert registry_parties.post("/v1/parties", json=authority).status_code == 201
    for principal in ("reg-x", "reg-y"):
        body = {"id": principal, "name": principal, "role": "regulator", "party": "HEBEI"}
        assert registry_parties.post("/v1/principals", json=body, headers=admin).status_code == 201
    return registry_parties


def test_an_administrator_cannot_issue_a_token_for_anyone(
    regulators: TestClient, admin: dict[str, str]
) -> None:
    response = regulators.post("/v1/principals/reg-x/tokens", json={}, headers=admin)

    assert response.status_code in (404, 405)  # there is no such operation any more


def test_an_administrator_cannot_approve_their_own_enrolment(
    regulators: TestClient, admin: dict[str, str]
) -> None:
    asked = regulators.post("/v1/principals/reg-x/enrolments", headers=admin).json()

    approved = regulators.post(f"/v1/approvals/{asked['id']}/approve", headers=admin)

    assert (approved.status_code, approved.json()["code"]) == (422, "self_approval")


def test_half_an_enrolment_code_redeems_nothing(
    regulators: TestClient, admin: dict[str, str], admin_2: dict[str, str]
) -> None:
    asked = regulators.post("/v1/principals/reg-x/enrolments", headers=admin).json()
    approved = regulators.post(f"/v1/approvals/{asked['id']}/approve", headers=admin_2).json()
    own_half = asked["code_part"]

    attempts = [
        own_half,
        f"{own_half}.{own_half}",
        f"{own_half}.guess",
        f"{approved['result']['code_part']}.{own_half}",
    ]
    answers = [
        regulators.post("/v1/enrolments/redeem", json={"principal": "reg-x", "code": code})
        for code in attempts
    ]

    assert {(a.status_code, a.json()["code"]) for a in answers} == {(401, "enrolment_code_invalid")}
    stored = regulators.get(f"/v1/approvals/{asked['id']}", headers=admin).json()
    assert "code_part" not in stored["result"]  # the approver's half is never stored


def test_an_enrolment_code_works_once(
    regulators: TestClient, admin: dict[str, str], admin_2: dict[str, str]
) -> None:
    asked = regulators.post("/v1/principals/reg-x/enrolments", headers=admin).json()
    approved = regulators.post(f"/v1/approvals/{asked['id']}/approve", headers=admin_2).json()
    code = f"{asked['code_part']}.{approved['result']['code_part']}"
    body = {"principal": "reg-x", "code": code}

    first = regulators.post("/v1/enrolments/redeem", json=body)
    again = regulators.post("/v1/enrolments/redeem", json=body)

    assert first.status_code == 201
    assert (again.status_code, again.json()["code"]) == (401, "enrolment_code_invalid")


def test_an_administrator_may_not_hold_a_regulatory_role(
    regulators: TestClient, admin: dict[str, str]
) -> None:
    body = {
        "id": "admin-as-regulator",
        "name": "x",
        "role": "regulator",
        "party": "HEBEI",
        "person": "administrator-all",  # the person behind the `admin` principal
    }

    response = regulators.post("/v1/principals", json=body, headers=admin)

    assert (response.status_code, response.json()["code"]) == (422, "separation_of_duties")


def test_an_administrator_may_not_decide_a_regulator_s_request(
    four_eyes: TestClient, admin: dict[str, str]
) -> None:
    regulator = headers_for(four_eyes, "regulator", principal="reg-a")
    pending = four_eyes.post(
        "/v1/entries/fund-so2/reverse", json={"entry_id": "undo-so2"}, headers=regulator
    ).json()

    response = four_eyes.post(f"/v1/approvals/{pending['id']}/approve", headers=admin)

    assert response.status_code == 404  # another authority's requests do not exist for it
    assert four_eyes.get("/v1/accounts/E01/balances/SO2-2026").json()["balance"] == "1500.000"


def test_an_administrator_may_not_act_in_the_registry(
    funded: TestClient, admin: dict[str, str]
) -> None:
    response = funded.post("/v1/entries", json=transfer("a-1", "E01", "E02", "1"), headers=admin)

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


def test_a_principal_rotates_and_revokes_its_own_tokens_only(
    client: TestClient, admin: dict[str, str]
) -> None:
    verifier = headers_for(client, "verifier")
    other = headers_for(client, "finance")
    others_token = client.get("/v1/me", headers=other).json()["token_id"]

    fresh = client.post("/v1/me/tokens", json={"description": "laptop"}, headers=verifier)
    bearer = {"Authorization": f"Bearer {fresh.json()['token']}"}
    mine = client.post(f"/v1/tokens/{fresh.json()['id']}/revoke", headers=verifier)
    theirs = client.post(f"/v1/tokens/{others_token}/revoke", headers=verifier)

    assert fresh.status_code == 201
    assert mine.json()["revoked_at"] is not None
    assert client.get("/v1/me", headers=bearer).status_code == 401
    assert (theirs.status_code, theirs.json()["code"]) == (404, "token_not_found")
    assert client.get("/v1/me", headers=other).status_code == 200


# -- failed authentication and request rates --------------------------------------------------


@pytest.fixture
def strict(database_url: str, clock: Clock) -> Iterator[TestClient]:
    """An app that cuts a source off after 3 failed authentications a minute and a principal
    after 5 requests a minute."""
    store = Store(create_ledger_engine(database_url, sqlite_synchronous="NORMAL"), clock=clock)
    settings = Settings(
        database_url=database_url,
        four_eyes=frozenset(),
        failed_auth_limit="3/minute",
        request_limit="5/minute",
    )
    with TestClient(create_app(settings, store=store)) as client:
        yield client


def test_a_source_that_keeps_failing_is_cut_off_and_audited_in_aggregate(
    strict: TestClient,
) -> None:
    forged = {"Authorization": "Bearer elt_000000000000_guess"}
    valid = headers_for(strict, "verifier")
    answers = [strict.get("/v1/me", headers=forged) for _ in range(6)]
    afterwards = strict.get("/v1/me", headers=valid)

    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429, 429]
    assert answers[3].json()["code"] == "rate_limited"
    assert int(answers[3].headers["Retry-After"]) > 0
    assert afterwards.status_code == 429  # the source is cut off, whatever it presents now
    store: Store = strict.app.state.store  # type: ignore[attr-defined]
    with store(read_only=True) as uow:
        lines = uow.access.list_audit(None, 0, 100)
    assert [(line.outcome, line.target) for line in lines] == [
        ("unauthenticated", "source testclient: first failure in the window"),
        ("rate_limited", "source testclient: cut off"),
    ]


def test_wrong_enrolment_codes_count_as_failed_authentication(strict: TestClient) -> None:
    body = {"principal": "nobody", "code": "a.b"}
    answers = [strict.post("/v1/enrolments/redeem", json=body) for _ in range(4)]

    assert [a.status_code for a in answers] == [401, 401, 401, 429]


def test_a_principal_s_requests_are_limited(strict: TestClient) -> None:
    bearer = headers_for(strict, "verifier")
    answers = [strict.get("/v1/me", headers=bearer).status_code for _ in range(6)]

    assert answers == [200] * 5 + [429]


def test_an_audit_line_carries_the_request_s_id(funded: TestClient, admin: dict[str, str]) -> None:
    bearer = headers_for(funded, "regulator", principal="traced")
    posted = funded.post(
        "/v1/entries",
        json=transfer("traced-1", "E01", "E02", "1"),
        headers={**bearer, "X-Request-Id": "req-from-the-gateway-7"},
    )

    log = funded.get("/v1/audit-log", params={"principal": "traced"}, headers=admin).json()

    assert posted.headers["X-Request-Id"] == "req-from-the-gateway-7"
    assert [r["request_id"] for r in log["records"]] == ["req-from-the-gateway-7"]
