"""Sign-in, sign-out, the language switch and the role's dashboard."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import failed_authentication
from api.console import i18n
from api.console.permissions import PREFIX
from api.console.sessions import LANGUAGE_COOKIE, SESSION_COOKIE, SIGN_IN_COOKIE
from api.console.web import (
    Acts,
    Form,
    SignInForm,
    context_of,
    gettext,
    is_tls,
    load_session,
    new_sign_in_token,
    redirect,
    render,
    session_of,
    source,
)
from ledger.domain.access import Unauthenticated

router = APIRouter()
COOKIE_PATH = PREFIX
LANGUAGE_SECONDS = 365 * 24 * 3600


def safe_next(target: str | None) -> str:
    """Only a page of the console (no open redirect to another site)."""
    if target and target.startswith(f"{PREFIX}/") and "//" not in target and "\\" not in target:
        return target
    return f"{PREFIX}/"


@router.get("/sign-in", include_in_schema=False)
def sign_in_page(request: Request, next: str | None = None) -> Response:
    token = request.cookies.get(SIGN_IN_COOKIE) or new_sign_in_token()
    response = render(request, "sign_in.html", csrf=token, next=safe_next(next))
    _cookie(request, response, SIGN_IN_COOKIE, token)
    return response


@router.post("/sign-in", include_in_schema=False)
async def sign_in(request: Request, form: SignInForm) -> Response:
    """A principal's token opens a new session (a new id: the old one, if any, is dropped)."""
    console = context_of(request)
    console.limits.check_source(source(request))
    token = form.get("token", "").strip()
    try:
        principal = await run_in_threadpool(console.tokens.authenticate, token)
    except Unauthenticated as error:
        token_id = error.context.get("token_id")
        await run_in_threadpool(failed_authentication, request, error, token_id)
        await load_session(request)  # the page's own session read, off the event loop
        _ = gettext(request)
        message = _("This token does not sign anyone in.")
        csrf = request.cookies.get(SIGN_IN_COOKIE, "")
        next_page = safe_next(form.get("next"))
        return render(request, "sign_in.html", 401, csrf=csrf, next=next_page, error=message)
    old = await load_session(request)
    if old is not None:
        await run_in_threadpool(console.sessions.close, old.id)
    assert principal.token_id is not None, "a principal authenticated by a token"
    session = await run_in_threadpool(console.sessions.open, principal.token_id, principal.id)
    response = redirect(safe_next(form.get("next")))
    _cookie(request, response, SESSION_COOKIE, session.id)
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/sign-out", include_in_schema=False)
def sign_out(request: Request, actor: Acts, form: Form) -> Response:
    del actor, form
    session = session_of(request)
    if session is not None:
        context_of(request).sessions.close(session.id)
    response = redirect(f"{PREFIX}/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/language/{language}", include_in_schema=False)
def switch_language(request: Request, language: str, next: str | None = None) -> Response:
    """Remember the reader's language (a preference, not a change to the registry)."""
    response = redirect(safe_next(next))
    response.set_cookie(
        LANGUAGE_COOKIE,
        i18n.language_of(language),
        max_age=LANGUAGE_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=is_tls(request),
    )
    return response


@router.get("/", include_in_schema=False)
def dashboard(request: Request, actor: Acts) -> Response:
    """The role's dashboard: who is signed in, and the pages its role may open."""
    return render(request, "dashboard.html", me=actor.principal)


def _cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name, value, path=COOKIE_PATH, httponly=True, samesite="strict", secure=is_tls(request)
    )
