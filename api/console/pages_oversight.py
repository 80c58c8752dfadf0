"""An authority's oversight of monitoring: the months with an hourly exceedance in its scope,
and an enterprise's penalty-basis events (rules §7.3), with the form to record one.

Each page calls the API's use case with the page's actor: the exceedances are `cems.months`
with its `exceeding` filter (`GET /v1/cems/months?exceeding=true`), the events
`penalty_events.list` and `penalty_events.record` (`/v1/parties/{code}/penalty-events`), so the
scope, the evidence rule and every refusal are the API's. An enterprise sees its own.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api import registry_schemas as rs
from api.console import i18n
from api.console.pages_monitoring import shown
from api.console.permissions import PREFIX
from api.console.web import (
    Acts,
    Form,
    PageNumber,
    Party,
    act,
    context_of,
    form_values,
    gettext,
    numbered,
    render,
)
from api.dependencies import Cursor
from ledger.domain.limits import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, YEAR_MAX, YEAR_MIN
from ledger.domain.operations import may
from ledger.domain.pages import Created
from ledger.domain.penalty_basis import PenaltyBasisEvent, PenaltyReason
from ledger.services import monitoring, parties, penalty_basis

router = APIRouter()
Year = Annotated[int | None, Query(ge=YEAR_MIN, le=YEAR_MAX)]
AnyPollutant = Annotated[str | None, Query(pattern=r"^(SO2|NOx|PM|CO|NH3-N|COD)?$")]
POLLUTANTS = ("SO2", "NOx", "PM", "CO", "COD", "NH3-N")
ROWS = PAGE_SIZE_DEFAULT  # a module name: a test pages with fewer


@router.get("/exceedances", include_in_schema=False)
def exceedances(  # noqa: PLR0917 - the page's filters
    request: Request,
    actor: Acts,
    party: Party = None,
    year: Year = None,
    pollutant: AnyPollutant = None,
    cursor: Cursor = None,
) -> Response:
    """The months of a year with an hourly exceedance, per enterprise, outlet and pollutant,
    in the reader's scope, a page at a time; each links to its month hour by hour."""
    code = actor.party if actor.role.value == "enterprise" else (party or None)
    shown_year = year or datetime.now(i18n.CHINA_STANDARD_TIME).year
    wanted = monitoring.MonthFilter(
        date(shown_year, 1, 1),
        date(shown_year, 12, 1),
        party=code,
        pollutant=pollutant or None,
        exceeding=True,
    )
    page = monitoring.list_months(context_of(request).store, actor, wanted, cursor, ROWS)
    return render(
        request,
        "exceedances.html",
        months=page.items,
        next_cursor=page.next_cursor,
        party=code or "",
        year=shown_year,
        pollutant=pollutant or "",
        pollutants=POLLUTANTS,
        shown=shown,
        named=party or "",  # the party asked for, carried by the next-page link
    )


@router.get("/penalty-events", include_in_schema=False)
def penalty_events(
    request: Request, actor: Acts, party: Party = None, page: PageNumber = 1
) -> Response:
    """An enterprise's penalty-basis events, a page at a time (an enterprise sees its own; an
    authority names one), and for a regulator the form to record one."""
    code = actor.party if actor.role.value == "enterprise" else (party or None)
    store = context_of(request).store
    events = None if code is None else penalty_basis.list_events(store, actor, code)
    records = code is not None and may(actor.role, "penalty_events.record")
    outlets = parties.list_outlets(store, actor, code, None, PAGE_SIZE_MAX) if records else None
    return render(
        request,
        "penalty_events.html",
        party=code or "",
        events=None if events is None else numbered(events, page),
        records=records,
        outlets=[o.outlet_code for o in outlets.items] if outlets else [],
        reasons=[reason.value for reason in PenaltyReason],
        pollutants=POLLUTANTS,
        new_id=f"PB-{secrets.token_hex(4).upper()}",
    )


@router.post("/penalty-events", include_in_schema=False)
def record_penalty_event(request: Request, actor: Acts, form: Form) -> Response:
    """Record an event against one of the party's outlets, as `POST
    /v1/parties/{code}/penalty-events` does (the same schema, the same use case)."""
    _ = gettext(request)
    party = form.get("party", "")
    fields = form_values(form, "id", "outlet", "reason", "first_month", "last_month", "evidence")
    body: dict[str, object] = {key: value for key, value in fields.items() if value is not None}
    body["generated_kg"] = {
        pollutant: form[f"generated_kg.{pollutant}"]
        for pollutant in POLLUTANTS
        if form.get(f"generated_kg.{pollutant}")
    }
    store = context_of(request).store

    def run() -> Created[PenaltyBasisEvent]:
        event = rs.PenaltyEventIn.model_validate(body).to_domain(party)
        return penalty_basis.record_event(store, actor, event)

    def done(made: Created[PenaltyBasisEvent]) -> str:
        message = _("Penalty-basis event %(id)s recorded against %(party)s/%(outlet)s.")
        return message % {"id": made.record.id, "party": party, "outlet": made.record.outlet}

    return act(request, f"{PREFIX}/penalty-events?party={quote(party)}", done, run)
