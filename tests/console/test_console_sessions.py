"""Sessions of the console: sign-in and its cookie, CSRF on every form, no session fixation,
idle expiry, revocation, the API's rate limits; the console's catalogs; /docs offline."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.console import catalog
from api.console.i18n import translations
from api.console.sessions import SESSION_COOKIE
from ledger.domain.access import Role
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import access
from ledger.settings import Settings
from tests.console.conftest import SignedIn, console_of, csrf_in, sign_in
from tests.factories import NO_FOUR_EYES, actor, token_for


def test_signing_in_sets_a_strict_http_only_cookie_secure_over_tls(
    app: FastAPI, tokens: dict[Role, str]
) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/console/sign-in")
        answer = client.post(
            "/console/sign-in",
            data={"csrf": csrf_in(page.text), "token": tokens[Role.ENTERPRISE]},
            follow_redirects=False,
        )
    cookie = answer.headers["set-cookie"].lower()
    assert answer.status_code == 303
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
    with TestClient(app) as plain:
        page = plain.get("/console/sign-in")
        answer = plain.post(
            "/console/sign-in",
            data={"csrf": csrf_in(page.text), "token": tokens[Role.ENTERPRISE]},
            follow_redirects=False,
        )
    assert "secure" not in answer.headers["set-cookie"].lower()  # plain HTTP: a local server


def test_a_page_without_a_session_sends_the_browser_to_sign_in(app: FastAPI) -> None:
    with TestClient(app) as client:
        answer = client.get("/console/trades", follow_redirects=False)
        home = client.get("/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=/console/trades"
    assert home.headers["location"] == "/console/"


def test_every_form_needs_the_sessions_csrf_token(signed_in: SignedIn) -> None:
    client, csrf = signed_in(Role.ENTERPRISE)
    body = {
        "id": "T9",
        "side": "sell",
        "counterparty": "E2",
        "family": "SO2",
        "quantity": "1",
        "price_cny_per_t": "9000",
        "trade_date": "2026-03-01",
    }
    for sent in ({}, {"csrf": "forged"}, {"csrf": csrf[:-1]}):
        answer = client.post("/console/trades", data={**body, **sent}, follow_redirects=False)
        assert answer.status_code == 403
        assert "csrf_token_invalid" in answer.text
    # The trade's row header, not the bare id: a random CSRF token may contain "T9".
    row = '<th scope="row">T9</th>'
    assert row not in client.get("/console/trades").text
    accepted = client.post("/console/trades", data={**body, "csrf": csrf}, follow_redirects=False)
    assert accepted.status_code == 303
    assert row in client.get("/console/trades").text


def test_the_sign_in_form_needs_its_own_csrf_token(app: FastAPI, tokens: dict[Role, str]) -> None:
    with TestClient(app) as client:
        answer = client.post("/console/sign-in", data={"token": tokens[Role.ENTERPRISE]})
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.cookies


def _session_id_after_sign_in(client: TestClient, token: str) -> str:
    page = client.get("/console/sign-in")
    answer = client.post(
        "/console/sign-in",
        data={"csrf": csrf_in(page.text), "token": token},
        follow_redirects=False,
    )
    return answer.cookies[SESSION_COOKIE]


def test_a_planted_session_id_is_never_taken_over(app: FastAPI, tokens: dict[Role, str]) -> None:
    """Session fixation: whatever id the browser brought, signing in makes a new one, and the
    old one (if it was a real session) is closed."""
    with TestClient(app) as victim:
        victim.cookies.set(SESSION_COOKIE, "planted", domain="testserver.local", path="/console")
        first = _session_id_after_sign_in(victim, tokens[Role.ENTERPRISE])
        second = _session_id_after_sign_in(victim, tokens[Role.ENTERPRISE])
    assert first != "planted"
    assert second != first
    for stolen in ("planted", first):
        with TestClient(app) as attacker:
            attacker.cookies.set(SESSION_COOKIE, stolen, path="/console")
            assert attacker.get("/console/", follow_redirects=False).status_code == 303


def test_an_idle_session_expires_and_signing_out_ends_it(signed_in: SignedIn, app: FastAPI) -> None:
    sessions = console_of(app).sessions
    now = [datetime(2026, 3, 1, 9, tzinfo=UTC)]
    sessions.clock = lambda: now[0]
    client, csrf = signed_in(Role.FINANCE)
    now[0] += timedelta(seconds=sessions.idle_seconds - 1)
    assert client.get("/console/", follow_redirects=False).status_code == 200
    now[0] += timedelta(seconds=sessions.idle_seconds + 1)
    assert client.get("/console/", follow_redirects=False).status_code == 303
    other, csrf = signed_in(Role.FINANCE)
    out = other.post("/console/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert other.get("/console/", follow_redirects=False).status_code == 303


def test_a_revoked_token_ends_its_session(signed_in: SignedIn, app: FastAPI) -> None:
    client, _ = signed_in(Role.VERIFIER)
    store = app.state.store
    administrator = actor(store, Role.ADMINISTRATOR)
    verifier = actor(store, Role.VERIFIER)
    with store() as uow:
        token_id = uow.access.tokens_of(verifier.id)[0].id
    access.revoke_token(store, administrator, token_id)
    app.state.tokens.clear()
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_failed_sign_ins_are_rate_limited_like_the_api(app: FastAPI) -> None:
    with TestClient(app) as client:
        csrf = csrf_in(client.get("/console/sign-in").text)
        statuses = [
            client.post("/console/sign-in", data={"csrf": csrf, "token": "elt_x_wrong"}).status_code
            for _ in range(7)
        ]
        api = client.get("/v1/me", headers={"Authorization": "Bearer elt_x_wrong"})
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
    assert api.status_code == 429  # one budget per source, console and API alike


def test_every_message_of_the_console_has_its_chinese() -> None:
    """The catalog is compiled from the committed .po at import: none can be stale, but a
    message added to a page without its translation fails here."""
    zh = translations("zh")
    missing = sorted({m for m in catalog.messages() if zh.gettext(m) == m})
    assert missing == []
    assert zh.gettext("Sign in") == "登录"


def test_the_docs_page_loads_swagger_ui_from_this_server(app: FastAPI) -> None:
    with TestClient(app) as client:
        page = client.get("/docs")
        script = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert script.status_code == 200 and len(script.content) > 100_000


def test_a_principals_pages_count_against_its_request_budget(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The console spends the principal's API budget (LEDGER_REQUEST_LIMIT): past it, 429."""
    path = tmp_path / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"), four_eyes=NO_FOUR_EYES)
    token = token_for(store, actor(store, Role.FINANCE))
    app = create_app(Settings(database_url=url, request_limit="4/minute"), store=store)
    with TestClient(app) as client:
        sign_in(client, token)  # the dashboard after sign-in is the first request
        statuses = [client.get("/console/").status_code for _ in range(4)]
        api = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    store.dispose()
    assert statuses == [200, 200, 200, 429]
    assert api.status_code == 429  # one budget: the console's pages and the API's calls


def test_the_language_is_the_readers_choice_and_never_an_open_redirect(app: FastAPI) -> None:
    with TestClient(app) as client:
        chinese = client.get("/console/sign-in").text
        switched = client.get("/console/language/en", params={"next": "/console/sign-in"})
        english = client.get("/console/sign-in").text
        elsewhere = [
            client.get("/console/language/zh", params={"next": target}, follow_redirects=False)
            for target in ("https://evil.example/", "//evil.example/", "/console/\\evil", "/v1/me")
        ]
    assert "登录" in chinese and 'lang="zh-Hans"' in chinese
    assert switched.status_code == 200 and "Sign in with your principal's token" in english
    assert all(answer.headers["location"] == "/console/" for answer in elsewhere)


def test_every_page_forbids_framing_and_foreign_scripts(app: FastAPI) -> None:
    with TestClient(app) as client:
        page = client.get("/console/sign-in")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "<script" not in page.text  # every action works without JavaScript
