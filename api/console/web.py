"""The console's machinery: sessions, the page's actor, CSRF, rendering and error pages.

Every page and form is a FastAPI route of the console's application. Its dependency `page_actor`
finds the route's operation in `api.console.permissions.CONSOLE_ROUTES`, finds the browser's
session, re-authenticates its token through the API's token cache, counts the request against the
principal's rate limit (the API's `RateLimits`), refuses a role the core's table refuses (a 403
page, audited as the API does) and builds the `Actor` the route passes to the use cases. A form's
dependency `checked_form` also requires the session's CSRF token in the form.

Routes hold no rule: they read a form, call one use case and redirect (post/redirect/get) with a
message; a rule's refusal comes back as a message naming its stable code, a refusal of who may
see or do it (403, 404) as an error page with the API's status.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import TokenCache, source_of
from api.console import i18n
from api.console.jobs import Jobs
from api.console.permissions import CONSOLE_ROUTES, MENU, PREFIX
from api.console.sessions import (
    FLASH_COOKIE,
    FLASH_SECONDS,
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    Session,
    Sessions,
    seal_flashes,
)
from api.errors import HTTP_STATUS_CODES, STATUS_OF_KIND
from api.rate_limits import RateLimits
from ledger.domain.access import Actor, Forbidden, Principal, Unauthenticated
from ledger.domain.errors import InvalidField, Kind, LedgerError
from ledger.domain.operations import may
from ledger.domain.ports import UnitOfWorkFactory
from ledger.services import transactions

T = TypeVar("T")
# Refusals a form shows as a message on the page it came from; the others are error pages.
RULE_KINDS = frozenset({Kind.INVALID, Kind.UNPROCESSABLE, Kind.CONFLICT})
SECURITY_HEADERS = {
    # Only the console's own styles and scripts; no frame may embed it.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


@dataclass(frozen=True, slots=True)
class Context:
    """The console's shared parts, on its application's state."""

    sessions: Sessions
    tokens: TokenCache
    limits: RateLimits
    store: UnitOfWorkFactory  # what the use cases take
    jobs: Jobs


def context_of(request: Request) -> Context:
    console: Context = request.app.state.console
    return console


def endpoint_of(request: Request) -> str:
    route = request.scope.get("route")
    path = route.path_format if isinstance(route, APIRoute) else request.url.path
    return f"{request.method} {PREFIX}{path}"


def language_of(request: Request) -> str:
    return i18n.language_of(request.cookies.get(LANGUAGE_COOKIE))


def session_of(request: Request) -> Session | None:
    """The browser's live session (looked up once per request: a read of the database, and a
    write at most once a minute; async code awaits `load_session` first)."""
    if "console_session" not in request.scope.setdefault("state", {}):
        cookies = request.cookies
        found = context_of(request).sessions.get(
            cookies.get(SESSION_COOKIE), cookies.get(FLASH_COOKIE)
        )
        request.state.console_session = found
    session: Session | None = request.state.console_session
    return session


async def load_session(request: Request) -> Session | None:
    """`session_of`, its database work off the event loop."""
    if "console_session" in request.scope.setdefault("state", {}):
        return session_of(request)
    return await run_in_threadpool(session_of, request)


async def page_actor(request: Request) -> Actor:
    """Who is signed in, may they open this page or send this form: the page's `Actor`."""
    endpoint = endpoint_of(request)
    operation = CONSOLE_ROUTES[endpoint]
    assert operation is not None, f"{endpoint} is public: it takes no actor"
    console = context_of(request)
    session = await load_session(request)
    if session is None:
        raise SignInRequired
    try:
        principal = await _principal(console.tokens, session.token_id)
    except Unauthenticated:  # revoked, expired, or its principal deactivated
        await run_in_threadpool(console.sessions.close, session.id)
        request.state.console_session = None
        raise SignInRequired from None
    console.limits.hit_principal(principal.id)
    actor = Actor(
        principal,
        operation,
        target=f"console: {request.method} {request.url.path}",
        request_id=getattr(request.state, "request_id", None),
    )
    request.state.principal = principal
    if not may(principal.role, operation):
        refused = Forbidden(f"a {principal.role.value} may not perform {operation}")
        await run_in_threadpool(transactions.audit, console.store, actor, "denied", refused.code)
        raise refused
    return actor


async def _principal(tokens: TokenCache, token_id: str) -> Principal:
    """The session's token authenticated again, by its id (the session holds no secret)."""
    cached = tokens.lookup_id(token_id)
    if cached is not None:
        return cached
    found: Principal = await run_in_threadpool(tokens.authenticate_id, token_id)
    return found


Acts = Annotated[Actor, Depends(page_actor)]


async def checked_form(request: Request, actor: Acts) -> AsyncIterator[dict[str, str]]:
    """The form's fields, once its CSRF token is the session's (else a 403 page); its uploaded
    files (`request.state.files`) are closed after the answer."""
    session = session_of(request)
    assert session is not None, "page_actor found it"
    form = await request.form()
    try:
        yield _fields_with_token(request, form, session.csrf)
    finally:
        await form.close()


async def sign_in_form(request: Request) -> AsyncIterator[dict[str, str]]:
    """The sign-in form's fields, once its CSRF token is the sign-in cookie's."""
    form = await request.form()
    try:
        yield _fields_with_token(request, form, request.cookies.get(SIGN_IN_COOKIE, ""))
    finally:
        await form.close()


def _fields_with_token(request: Request, form: FormData, expected: str) -> dict[str, str]:
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    sent = fields.pop("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused
    request.state.files = {k: v for k, v in form.items() if not isinstance(v, str)}
    return fields


class CsrfRefused(Exception):
    """A form without the session's CSRF token: refused (403) before anything is done."""


Form = Annotated[dict[str, str], Depends(checked_form)]
Party = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]


def party_of(actor: Actor, named: str | None) -> str:
    """The party a page is about: an enterprise's own; others name one."""
    party = actor.party if actor.role.value == "enterprise" else (named or actor.party)
    if party is None:
        raise InvalidField("name a party (?party=)", field="party")
    return party


SignInForm = Annotated[dict[str, str], Depends(sign_in_form)]


# -- rendering ------------------------------------------------------------------------------------


@cache
def environment(language: str) -> Environment:
    """The templates, with the language's catalog installed (`_`, `gettext`, `ngettext`)."""
    env = Environment(
        loader=PackageLoader("api.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        amount=lambda value, places=None: i18n.amount(value, language, places),
        money=lambda value: i18n.money(value, language),
        instant=lambda value: i18n.instant(value, language),
        day=lambda value: i18n.day(value, language),
        also=also,
        language=language,
    )
    return env


def also(**values: object) -> str:
    """A page's other query parameters for its pager's links ("&k=v&..."), the empty ones
    left out (an empty `party=` or `as_of=` is not "none given" but a refused value)."""
    given = {key: str(value) for key, value in values.items() if value not in (None, "")}
    return "&" + urlencode(given) if given else ""


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page: the template in the reader's language, with the session's menu and messages."""
    language = language_of(request)
    session = session_of(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    flashes = list(session.flashes) if session is not None else []
    if session is not None and session.flashes:
        session.flashes.clear()  # shown: the answer clears their cookie
        session.flashes_changed = True
    html = (
        environment(language)
        .get_template(template)
        .render(
            request=request,
            path=request.url.path,
            query=request.url.query,
            session=session,
            principal=principal,
            menu=menu_of(principal),
            flashes=flashes,
            **values,
        )
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    return response


def menu_of(principal: Principal | None) -> list[tuple[str, str]]:
    """The pages the principal's role may open, for its dashboard and the navigation bar."""
    if principal is None:
        return []
    return [
        (path, title)
        for path, title in MENU
        if may(principal.role, CONSOLE_ROUTES[f"GET {path}"] or "me.read")
    ]


def gettext(request: Request) -> Callable[[str], str]:
    return i18n.gettext_of(language_of(request))


def flash(request: Request, kind: str, message: str) -> None:
    """A message for the next page the browser sees (`FlashCookie` carries it there)."""
    session = session_of(request)
    if session is not None:
        session.flashes.append((kind, message))
        session.flashes_changed = True


class FlashCookie:
    """The console's middleware carrying a session's messages from a form to the page it
    redirects to, in a cookie sealed for the session (`api.console.sessions.seal_flashes`),
    whichever worker serves that page: set when a request left messages, cleared once a page
    showed them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                session = state.get("console_session")
                if session is not None and session.flashes_changed:
                    headers = list(message.get("headers", []))
                    headers.append(_flash_cookie(session, scope.get("scheme") == "https"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


def _flash_cookie(session: Session, tls: bool) -> tuple[bytes, bytes]:
    """The Set-Cookie header of the session's messages (or of their removal)."""
    carrier = Response()
    if session.flashes:
        carrier.set_cookie(
            FLASH_COOKIE,
            seal_flashes(session.id, session.flashes),
            max_age=FLASH_SECONDS,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=tls,
        )
    else:
        carrier.delete_cookie(FLASH_COOKIE, path=PREFIX, httponly=True, samesite="strict")
    header: tuple[bytes, bytes] = carrier.raw_headers[-1]
    return header


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def act(
    request: Request, back: str, done: str | Callable[[T], str], action: Callable[[], T]
) -> Response:
    """Run one use case for a form; say what happened (`done`, or `done` of what the use case
    answered) on the page at `back` (303).

    A rule's refusal (invalid input, a conflict, a rule of the registry) is a message naming its
    code; refusals of who may do it (403, 404) propagate to the error pages."""
    _ = gettext(request)
    try:
        outcome = action()
    except LedgerError as error:
        if error.kind not in RULE_KINDS:
            raise
        flash(request, "error", f"{_('Refused')}: {error.code}: {error.detail}")
    except ValidationError as error:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors())
        flash(request, "error", f"{_('Refused')}: invalid_field: {fields}")
    else:
        flash(request, "done", done if isinstance(done, str) else done(outcome))
    return redirect(back)


def form_values(form: Mapping[str, str], *names: str) -> dict[str, str | None]:
    """The named fields, an empty one as None (the schemas' "not given")."""
    return {name: (form.get(name) or None) for name in names}


# -- answers outside the pages: sign-in needed, refusals, errors -------------------------------


def install_error_pages(app: Any) -> None:
    """Every refusal as a page of the console (never JSON), with the API's status."""

    async def sign_in_required(request: Request, _: Exception) -> Response:
        target = request.url.path if request.method == "GET" else f"{PREFIX}/"
        return redirect(f"{PREFIX}/sign-in?next={target}")

    async def csrf_refused(request: Request, error: Exception) -> Response:
        del error
        await load_session(request)
        _ = gettext(request)
        text = _("The form has expired or did not come from this console.")
        return render(request, "error.html", 403, code="csrf_token_invalid", detail=text)

    async def ledger_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, LedgerError)
        await load_session(request)
        status = STATUS_OF_KIND[error.kind]
        response = render(request, "error.html", status, code=error.code, detail=error.detail)
        retry = getattr(error, "retry_after", None)
        if retry is not None:
            response.headers["Retry-After"] = str(retry)
        return response

    async def invalid_request(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        await load_session(request)
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) for e in error.errors())
        return render(request, "error.html", 422, code="invalid_field", detail=fields)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        await load_session(request)
        code = HTTP_STATUS_CODES.get(error.status_code, "http_error")
        return render(request, "error.html", error.status_code, code=code, detail=str(error.detail))

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.add_exception_handler(LedgerError, ledger_error)


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def source(request: Request) -> str:
    return source_of(request)


# -- pages of a list read whole ---------------------------------------------------------------

ROWS_PER_PAGE = 50
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


@dataclass(frozen=True, slots=True)
class Numbered(Generic[T]):
    """One page of rows a use case returns whole (a report whose totals cover every row, or a
    list that has no keyset page): its rows, its number and the last page's (at least 1)."""

    rows: Sequence[T]
    number: int
    last: int


def numbered(rows: Sequence[T], number: int, size: int | None = None) -> Numbered[T]:
    """Page `number` (from 1) of `rows` (`ROWS_PER_PAGE` a page, read when called); a number
    past the end shows the last page."""
    size = size or ROWS_PER_PAGE
    last = max(1, -(-len(rows) // size))
    number = min(number, last)
    return Numbered(rows[(number - 1) * size : number * size], number, last)
