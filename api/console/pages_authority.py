"""An authority's pages (the province's regulator, a city's authority within its city): the
registry overview, enterprises, allocations with four-eyes, and the approvals queue."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api import registry_schemas as rs
from api.console import approval_views, charts
from api.console.i18n import CHINA_STANDARD_TIME, N_
from api.console.permissions import PREFIX
from api.console.web import (
    Acts,
    Form,
    PageNumber,
    act,
    context_of,
    form_values,
    gettext,
    language_of,
    numbered,
    render,
)
from api.dependencies import Cursor, IdPath
from ledger.domain.access import ApprovalRequest, Pending, RequestState
from ledger.domain.finance import MARKET_MIN_PARTIES, MARKET_MIN_TRADES
from ledger.domain.limits import PAGE_SIZE_DEFAULT, YEAR_MAX, YEAR_MIN
from ledger.domain.pages import Created
from ledger.domain.registry import Entitlement, PartyKind, scale_of
from ledger.services import approvals, parties, registry, rights, statements

router = APIRouter()
City = Annotated[str | None, Query(max_length=64)]
Party = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]
POLLUTANTS = ("SO2", "NOx", "COD", "NH3-N")
Year = Annotated[int | None, Query(ge=YEAR_MIN + 1, le=YEAR_MAX)]
# The market report's markets as a reader names them; the report (and the API) keeps its values.
MARKET_NAMES = {
    statements.BILATERAL: N_("bilateral trades"),
    statements.RESERVE_SALES: N_("reserve sales"),
    statements.BUY_BACKS: N_("reserve buy-backs"),
}


@router.get("/overview", include_in_schema=False)
def overview(
    request: Request, actor: Acts, page: PageNumber = 1, city_page: PageNumber = 1
) -> Response:
    """Supply by pollutant and vintage: issued, held, pledged and in reserve, as a chart and
    its table (the supply report's identity holds over the whole registry), and the rights
    held by city; each list a page at a time (`page`, `city_page`), its chart the page's."""
    table = numbered(list(statements.supply(context_of(request).store, actor)), page)
    _ = gettext(request)
    rights_rows = [row for row in table.rows if row[1] == "t"]
    labels = [str(row[0]) for row in rights_rows]

    def column(index: int) -> list[Decimal]:
        return [Decimal(str(row[index])) for row in rights_rows]

    chart = charts.Chart(
        _("Supply of emission rights"),
        _("Issued, held and pledged rights by pollutant and vintage (t)."),
        labels,
        [
            charts.Series(_("issued"), column(2)),
            charts.Series(_("held"), column(3)),
            charts.Series(_("pledged"), column(4)),
        ],
        unit="t",
    )
    by_city = numbered(statements.holdings_by_city(context_of(request).store, actor), city_page)
    city_chart = charts.Chart(
        _("Rights held by city"),
        _("Rights in enterprises' holdings accounts by city and pollutant, every vintage (t)."),
        [f"{city} · {pollutant}" for city, pollutant, _t in by_city.rows],
        [charts.Series(_("held"), [held for _c, _p, held in by_city.rows])],
        unit="t",
    )
    return render(
        request, "overview.html", rows=table, chart=chart, by_city=by_city, city_chart=city_chart
    )


@router.get("/parties", include_in_schema=False)
def enterprises(
    request: Request, actor: Acts, city: City = None, name: City = None, cursor: Cursor = None
) -> Response:
    """Enterprises the authority sees, searched by city and by a part of the name, a page at
    a time."""
    page = parties.list_parties(
        context_of(request).store,
        actor,
        PartyKind.ENTERPRISE,
        city or None,
        cursor,
        PAGE_SIZE_DEFAULT,
        name=name or None,
    )
    return render(
        request,
        "parties.html",
        parties=page.items,
        next_cursor=page.next_cursor,
        city=city or "",
        name=name or "",
    )


@router.get("/entitlements", include_in_schema=False)
def entitlements(
    request: Request, actor: Acts, party: Party = None, cursor: Cursor = None
) -> Response:
    """Confirmed allocations, and the form to allocate (above the threshold: four-eyes)."""
    page = rights.list_entitlements(
        context_of(request).store, actor, party, None, cursor, PAGE_SIZE_DEFAULT
    )
    rows = [(e, Decimal(e.units).scaleb(-scale_of(e.pollutant))) for e in page.items]
    return render(
        request,
        "entitlements.html",
        rows=rows,
        next_cursor=page.next_cursor,
        party=party or "",
        pollutants=POLLUTANTS,
        new_id=f"A-{secrets.token_hex(4).upper()}",
    )


@router.post("/entitlements", include_in_schema=False)
def allocate(request: Request, actor: Acts, form: Form) -> Response:
    """Allocate rights: confirmed at once, or a request waiting for a second principal."""
    _ = gettext(request)
    fields = form_values(form, "id", "party", "pollutant", "quantity_t_per_year", "first_vintage")
    body = {key: value for key, value in fields.items() if value is not None}

    def run() -> Created[Entitlement] | Pending:
        entitlement = rs.EntitlementIn.model_validate(body).to_domain()
        return rights.confirm_entitlement(context_of(request).store, actor, entitlement)

    def done(outcome: Created[Entitlement] | Pending) -> str:
        """Whether the allocation was made or waits for a second principal."""
        if isinstance(outcome, Pending):
            message = _("Allocation %(id)s waits for a second principal's approval (%(request)s).")
            return message % {"id": body.get("id", ""), "request": outcome.request.id}
        return _("Allocation %(id)s confirmed.") % {"id": body.get("id", "")}

    return act(request, f"{PREFIX}/entitlements", done, run)


@router.get("/approvals", include_in_schema=False)
def approvals_queue(request: Request, actor: Acts, cursor: Cursor = None) -> Response:
    """Requests waiting for a second principal of the actor's authority, each in human terms
    (what, for whom, how much, who asked and when) with its stored payload folded beside."""
    page = approvals.list_requests(
        context_of(request).store, actor, RequestState.PENDING, cursor or "", PAGE_SIZE_DEFAULT
    )
    language = language_of(request)
    shown = [approval_views.describe(item, language) for item in page.items]
    return render(request, "approvals.html", requests=shown, next_cursor=page.next_cursor)


@router.post("/approvals/{request_id}/approve", include_in_schema=False)
def approve(request: Request, request_id: IdPath, actor: Acts, form: Form) -> Response:
    del form
    _ = gettext(request)
    store = context_of(request).store

    def done(decided: ApprovalRequest) -> str:
        said = _("Request %(id)s approved and carried out.") % {"id": request_id}
        code = (decided.result or {}).get("code_part")
        if code is None:
            return said
        return (
            said
            + " "
            + _("The enrolment code's second half, shown only now: %(code)s.") % {"code": code}
        )

    return act(
        request, f"{PREFIX}/approvals", done, lambda: approvals.approve(store, actor, request_id)
    )


@router.post("/approvals/{request_id}/reject", include_in_schema=False)
def reject(request: Request, request_id: IdPath, actor: Acts, form: Form) -> Response:
    _ = gettext(request)
    done = _("Request %(id)s rejected.") % {"id": request_id}
    reason = form.get("reason", "")
    store = context_of(request).store
    return act(
        request,
        f"{PREFIX}/approvals",
        done,
        lambda: approvals.reject(store, actor, request_id, reason),
    )


@router.get("/market", include_in_schema=False)
def market(request: Request, year: Year = None, page: PageNumber = 1) -> Response:
    """The public market report (no sign-in: it names no party): per quarter and pollutant,
    the settled trades' count, volume, value and volume-weighted price, with a price chart
    (the priced cells a page at a time, the chart the page's)."""
    shown = year or datetime.now(CHINA_STANDARD_TIME).year
    table = statements.market_report(
        context_of(request).store, date(shown - 1, 1, 1), date(shown, 12, 31)
    )
    names = [column.name for column in table.columns]
    _ = gettext(request)
    rows = [_labelled(dict(zip(names, row, strict=True)), _) for row in table]
    # Suppressed cells (fewer than 3 trades or parties) carry no price: not charted, counted.
    priced = numbered([row for row in rows if row["volume_weighted_price_cny"] is not None], page)
    hidden = sum(1 for row in rows if row["suppressed"] == "yes")
    chart = charts.Chart(
        _("Market prices %(first)s–%(last)s") % {"first": shown - 1, "last": shown},
        _("Volume-weighted price of settled trades by quarter and pollutant (CNY per t)."),
        [str(row["label"]) for row in priced.rows],
        [
            charts.Series(
                _("price"),
                [Decimal(str(row["volume_weighted_price_cny"])) for row in priced.rows],
            )
        ],
        unit="CNY/t",
    )
    return render(
        request,
        "market.html",
        rows=rows,
        priced=priced,
        hidden=hidden,
        least={"trades": MARKET_MIN_TRADES, "parties": MARKET_MIN_PARTIES},
        chart=chart,
        year=shown,
    )


def _labelled(row: dict[str, object], _: Callable[[str], str]) -> dict[str, object]:
    """A report row with the label its chart and table show: quarter, pollutant and market, the
    market translated (one the console does not know yet shown as the report names it)."""
    market = str(row["market"])
    label = f"{row['quarter']} {row['pollutant']} {_(MARKET_NAMES.get(market, market))}"
    return {**row, "label": label}


@router.get("/pledges", include_in_schema=False)
def pledges(request: Request, actor: Acts, party: Party = None, cursor: Cursor = None) -> Response:
    """Pledges (release one), and an account to freeze or unfreeze."""
    page = rights.list_pledges(
        context_of(request).store, actor, party, None, cursor, PAGE_SIZE_DEFAULT
    )
    rows = [(p, Decimal(p.units).scaleb(-scale_of(p.pollutant))) for p in page.items]
    return render(
        request, "pledges.html", rows=rows, next_cursor=page.next_cursor, party=party or ""
    )


@router.post("/pledges/{pledge_id}/release", include_in_schema=False)
def release(request: Request, pledge_id: IdPath, actor: Acts, form: Form) -> Response:
    del form
    _ = gettext(request)
    store = context_of(request).store
    return act(
        request,
        f"{PREFIX}/pledges",
        _("Pledge %(id)s released.") % {"id": pledge_id},
        lambda: rights.release_pledge(store, actor, pledge_id),
    )


@router.post("/accounts/freeze", include_in_schema=False)
def freeze(request: Request, actor: Acts, form: Form) -> Response:
    """Freeze (or, with `unfreeze`, unfreeze) an account: no more debits until unfrozen."""
    _ = gettext(request)
    store = context_of(request).store
    code = form.get("account", "")
    if form.get("action") == "unfreeze":
        done = _("Account %(code)s unfrozen.") % {"code": code}
        return act(
            request,
            f"{PREFIX}/pledges",
            done,
            lambda: registry.unfreeze_account(store, actor, code),
        )
    done = _("Account %(code)s frozen.") % {"code": code}
    return act(
        request, f"{PREFIX}/pledges", done, lambda: registry.freeze_account(store, actor, code)
    )


RESERVE_ACTIONS = ("reserve_sale", "buy_back", "reclaim", "confiscation", "cancellation")


@router.get("/reserve", include_in_schema=False)
def reserve(request: Request, actor: Acts, page: PageNumber = 1) -> Response:
    """The authority's reserve (what it holds in it, a page at a time) and the form to book a
    reserve operation."""
    code = actor.party or ""
    rows = [
        (instrument, unit, balance)
        for account, instrument, unit, balance in statements.holdings(
            context_of(request).store, actor, code
        )
        if account == f"{code}:reserve"
    ]
    return render(
        request,
        "reserve.html",
        shown=numbered(rows, page),
        authority=code,
        actions=RESERVE_ACTIONS,
        pollutants=POLLUTANTS,
        new_id=f"R-{secrets.token_hex(4).upper()}",
    )


@router.post("/reserve-operations", include_in_schema=False)
def reserve_operation(request: Request, actor: Acts, form: Form) -> Response:
    """Book a reserve operation as the actor's authority (confiscation and cancellation destroy
    rights, a buy-back pays public money: they wait for a second principal)."""
    _ = gettext(request)
    names = ("id", "action", "party", "pollutant", "quantity_t_per_year", "first_vintage")
    fields = form_values(form, *names, "last_vintage", "price_cny_per_t")
    body = {key: value for key, value in fields.items() if value is not None}
    body["authority"] = actor.party or ""
    store = context_of(request).store

    def run() -> object:
        command = rs.reserve_command(rs.ReserveOperationIn.model_validate(body))
        return rights.reserve_operation(store, actor, command)

    def done(outcome: object) -> str:
        if isinstance(outcome, Pending):
            message = _("Reserve operation %(id)s waits for a second principal's approval.")
            return message % {"id": body.get("id", "")}
        return _("Reserve operation %(id)s booked.") % {"id": body.get("id", "")}

    return act(request, f"{PREFIX}/reserve", done, run)
