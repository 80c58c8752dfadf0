"""An administrator's pages: principals (a page at a time), one principal with its tokens;
deactivate, activate, revoke a token; create a principal and ask for its enrolment (the code's
first half is shown once to the asking administrator, the second half once to the approving
one, on the approvals page)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.console.permissions import PREFIX
from api.console.web import Acts, Form, PageNumber, act, context_of, gettext, numbered, render
from api.dependencies import Cursor
from ledger.domain.access import PrincipalRecord, Role
from ledger.domain.errors import InvalidField
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.services import access

router = APIRouter()
PRINCIPAL_ID = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
PrincipalId = Annotated[str, Path(max_length=64, pattern=PRINCIPAL_ID)]
TokenId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


@router.get("/principals", include_in_schema=False)
def principals(request: Request, actor: Acts, cursor: Cursor = None) -> Response:
    page = access.list_principals(context_of(request).store, actor, cursor or "", PAGE_SIZE_DEFAULT)
    return render(request, "principals.html", principals=page.items, next_cursor=page.next_cursor)


@router.get("/principals/{principal_id}", include_in_schema=False)
def principal(
    request: Request, principal_id: PrincipalId, actor: Acts, page: PageNumber = 1
) -> Response:
    """A principal and its tokens (a page at a time)."""
    record, tokens = access.get_principal(context_of(request).store, actor, principal_id)
    return render(request, "principal.html", record=record, tokens=numbered(list(tokens), page))


@router.post("/principals/{principal_id}/deactivate", include_in_schema=False)
def deactivate(request: Request, principal_id: PrincipalId, actor: Acts, form: Form) -> Response:
    del form
    _ = gettext(request)
    store = context_of(request).store
    return act(
        request,
        f"{PREFIX}/principals/{principal_id}",
        _("%(id)s deactivated: its tokens no longer work.") % {"id": principal_id},
        lambda: access.deactivate(store, actor, principal_id),
    )


@router.post("/principals/{principal_id}/activate", include_in_schema=False)
def activate(request: Request, principal_id: PrincipalId, actor: Acts, form: Form) -> Response:
    del form
    _ = gettext(request)
    store = context_of(request).store
    return act(
        request,
        f"{PREFIX}/principals/{principal_id}",
        _("%(id)s activated.") % {"id": principal_id},
        lambda: access.activate(store, actor, principal_id),
    )


@router.post("/tokens/{token_id}/revoke", include_in_schema=False)
def revoke(request: Request, token_id: TokenId, actor: Acts, form: Form) -> Response:
    """Revoke a token (an administrator any, everyone else their own); the token cache is
    cleared so that it stops working here at once."""
    _ = gettext(request)
    store = context_of(request).store
    back = form.get("back", "")
    target = back if back.startswith(f"{PREFIX}/") and "//" not in back else f"{PREFIX}/"

    def run() -> None:
        access.revoke_token(store, actor, token_id)
        context_of(request).tokens.clear()

    return act(request, target, _("Token %(id)s revoked.") % {"id": token_id}, run)


@router.post("/principals", include_in_schema=False)
def create(request: Request, actor: Acts, form: Form) -> Response:
    """Register a principal (no credential yet: ask for its enrolment on its page)."""
    _ = gettext(request)
    store = context_of(request).store
    principal_id = form.get("id", "")

    def run() -> PrincipalRecord:
        roles = {role.value: role for role in Role}
        if form.get("role") not in roles:
            raise InvalidField("choose a role", field="role")
        new = access.NewPrincipal(
            principal_id,
            form.get("name", ""),
            roles[form["role"]],
            form.get("party") or None,
            form.get("kind") or "user",
        )
        return access.create_principal(store, actor, new).record

    well_formed = re.fullmatch(PRINCIPAL_ID, principal_id) is not None
    return act(
        request,
        f"{PREFIX}/principals/{principal_id}" if well_formed else f"{PREFIX}/principals",
        _("Principal %(id)s created.") % {"id": principal_id},
        run,
    )


@router.post("/principals/{principal_id}/enrolments", include_in_schema=False)
def enrol(request: Request, principal_id: PrincipalId, actor: Acts, form: Form) -> Response:
    """Ask for an enrolment code: always four-eyes; this administrator's half is shown once."""
    del form
    _ = gettext(request)
    store = context_of(request).store

    def done(asked: access.EnrolmentRequested) -> str:
        return _(
            "Enrolment asked for (request %(request)s). Your half of the code, shown only now: "
            "%(code)s. A second administrator approves it and is shown the other half."
        ) % {"request": asked.pending.request.id, "code": asked.code_part}

    return act(
        request,
        f"{PREFIX}/principals/{principal_id}",
        done,
        lambda: access.request_enrolment(store, actor, principal_id),
    )
