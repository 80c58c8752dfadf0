"""Authorization through the console, generated from its table (`CONSOLE_ROUTES`): every page
and form is refused (403, before any form is read) to each role the core's table refuses, as the
API refuses it; a party outside the reader's scope is the same 404 as in the API."""

from __future__ import annotations

import re

import pytest

from api.console.permissions import CONSOLE_ROUTES
from ledger.domain.access import Role
from ledger.domain.operations import OPERATIONS
from tests.console.conftest import SignedIn

REFUSALS = [
    (endpoint, role)
    for endpoint, operation in CONSOLE_ROUTES.items()
    if operation is not None
    for role in Role
    if role not in OPERATIONS[operation]
]
ALLOWED_PAGES = [
    (endpoint, role)
    for endpoint, operation in CONSOLE_ROUTES.items()
    if operation is not None and endpoint.startswith("GET ") and "{" not in endpoint
    for role in sorted(OPERATIONS[operation])  # a set: the same order in every xdist worker
]


def concrete(endpoint: str) -> tuple[str, str]:
    method, path = endpoint.split(" ", 1)
    return method, re.sub(r"\{[^}]+\}", "X1", path)


def test_the_table_refuses_someone_somewhere() -> None:
    assert len(REFUSALS) > 10


@pytest.mark.parametrize(
    ("endpoint", "role"), REFUSALS, ids=[f"{e}-{r.value}" for e, r in REFUSALS]
)
def test_a_role_the_core_refuses_gets_a_403_page(
    signed_in_once: SignedIn, endpoint: str, role: Role
) -> None:
    client, csrf = signed_in_once(role)
    method, path = concrete(endpoint)
    answer = client.request(method, path, data={"csrf": csrf} if method == "POST" else None)
    assert answer.status_code == 403, answer.text
    assert "forbidden" in answer.text and answer.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("endpoint", "role"), ALLOWED_PAGES, ids=[f"{e}-{r.value}" for e, r in ALLOWED_PAGES]
)
def test_a_role_the_core_allows_opens_the_page(
    signed_in_once: SignedIn, endpoint: str, role: Role
) -> None:
    """Allowed: the page answers (a page that needs a party shows its picker or the caller's
    own party); never a 403, never a 500."""
    client, _ = signed_in_once(role)
    method, path = concrete(endpoint)
    answer = client.request(
        method, path, params={"party": "E1"} if role is not Role.ENTERPRISE else None
    )
    assert answer.status_code in (200, 422), answer.text
    assert answer.status_code == 200 or "invalid" in answer.text


def test_a_party_out_of_scope_is_the_same_404_as_in_the_api(signed_in_once: SignedIn) -> None:
    city, _ = signed_in_once(Role.CITY_AUTHORITY)  # Tangshan: E1 and E2, not E3 (Xingtai)
    assert city.get("/console/holdings", params={"party": "E1"}).status_code == 200
    for page in ("/console/holdings", "/console/compliance"):
        answer = city.get(page, params={"party": "E3"})
        assert answer.status_code == 404, answer.text
        assert "party_not_found" in answer.text


def test_an_enterprise_sees_only_its_own_party_whatever_it_names(signed_in_once: SignedIn) -> None:
    enterprise, _ = signed_in_once(Role.ENTERPRISE)
    answer = enterprise.get("/console/holdings", params={"party": "E2"})
    assert answer.status_code == 200
    assert "E1" in answer.text and "Holdings · E2" not in answer.text


def test_the_dashboard_links_only_the_pages_the_role_may_open(signed_in_once: SignedIn) -> None:
    enterprise, _ = signed_in_once(Role.ENTERPRISE)
    administrator, _ = signed_in_once(Role.ADMINISTRATOR)
    assert 'href="/console/trades"' in enterprise.get("/console/").text
    assert 'href="/console/trades"' not in administrator.get("/console/").text
