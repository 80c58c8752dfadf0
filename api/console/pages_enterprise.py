"""An enterprise's pages: holdings, trade proposals, compliance and statements.

An enterprise sees its own party; an authority or another reader names the party (`?party=`)
and sees it if its scope does (the use cases decide: out of scope is the party's 404).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api import registry_schemas as rs
from api.console import charts, i18n
from api.console.permissions import PREFIX
from api.console.web import Acts, Form, act, context_of, form_values, gettext, render
from api.dependencies import Cursor, IdPath
from api.routers.finance import render as download
from ledger.domain.access import Actor
from ledger.domain.errors import InvalidField
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.registry import PLEDGED, Trade, TradeState, scale_of
from ledger.services import compliance, parties, statements, trading

router = APIRouter()
Party = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]
FAMILIES = ("SO2", "NOx", "COD", "NH3-N", "CEA", "CCER")


def party_of(actor: Actor, named: str | None) -> str:
    """The party a page is about: an enterprise's own; others name one."""
    party = actor.party if actor.role.value == "enterprise" else (named or actor.party)
    if party is None:
        raise InvalidField("name a party (?party=)", field="party")
    return party


@router.get("/holdings", include_in_schema=False)
def holdings(request: Request, actor: Acts, party: Party = None) -> Response:
    """Holdings by instrument and vintage: available and pledged, with a chart."""
    code = party_of(actor, party)
    table = statements.holdings(context_of(request).store, actor, code)
    available: dict[str, Decimal] = defaultdict(Decimal)
    pledged: dict[str, Decimal] = defaultdict(Decimal)
    units: dict[str, str] = {}
    for account, instrument, unit, balance in table:
        assert isinstance(balance, Decimal) and isinstance(instrument, str)
        units[instrument] = str(unit)
        if account == f"{code}:holdings":
            available[instrument] += balance
        elif account == f"{code}:{PLEDGED.suffix}":
            pledged[instrument] += balance
    rights = sorted(i for i in units if i != "CNY")
    _ = gettext(request)
    chart = charts.Chart(
        _("Holdings of %(party)s") % {"party": code},
        _("Available and pledged holdings by instrument and vintage."),
        rights,
        [
            charts.Series(_("available"), [available[i] for i in rights]),
            charts.Series(_("pledged"), [pledged[i] for i in rights]),
        ],
        unit="t / tCO2",
    )
    rows = [(i, units[i], available[i], pledged[i]) for i in rights]
    cash = available.get("CNY")
    return render(request, "holdings.html", party=code, rows=rows, chart=chart, cash=cash)


@router.get("/trades", include_in_schema=False)
def trades(
    request: Request,
    actor: Acts,
    party: Party = None,
    cursor: Cursor = None,
) -> Response:
    """Incoming and outgoing proposals (a page at a time), and the form to propose one."""
    store = context_of(request).store
    code = actor.party if actor.role.value == "enterprise" else party
    page = trading.list_trades(
        store, actor, party=code, family=None, state=None, cursor=cursor, limit=PAGE_SIZE_DEFAULT
    )
    floors = parties.get_policy(store, actor).floor_fen_per_t
    return render(
        request,
        "trades.html",
        trades=[_trade_row(t) for t in page.items],
        next_cursor=page.next_cursor,
        party=code,
        floors={family: Decimal(fen).scaleb(-2) for family, fen in sorted(floors.items())},
        families=FAMILIES,
        new_id=f"T-{secrets.token_hex(4).upper()}",
        today=datetime.now(i18n.CHINA_STANDARD_TIME).date(),
        proposed=TradeState.PROPOSED,
    )


def _trade_row(trade: Trade) -> tuple[Trade, Decimal, str, Decimal]:
    """A trade with its quantity in its unit (t/a to the kg, or tCO2) and its price in CNY."""
    scale = scale_of(trade.family)
    unit = "t/a" if scale else "tCO2"
    return trade, Decimal(trade.units).scaleb(-scale), unit, Decimal(trade.price_fen).scaleb(-2)


@router.post("/trades", include_in_schema=False)
def propose(request: Request, actor: Acts, form: Form) -> Response:
    """Propose a trade as seller or buyer; the same form sent twice replays (its hidden id)."""
    _ = gettext(request)
    me = actor.party or ""
    selling = form.get("side") == "sell"
    counterparty = form.get("counterparty", "")
    values = form_values(
        form, "id", "family", "quantity", "price_cny_per_t", "trade_date", "vintage"
    )
    body = {
        **{k: v for k, v in values.items() if v is not None},
        "seller": me if selling else counterparty,
        "buyer": counterparty if selling else me,
        "zero_price_reason": form.get("zero_price_reason", ""),
    }

    def run() -> None:
        made = rs.TradeIn.model_validate(body)
        trading.propose(context_of(request).store, actor, made.to_domain(), vintage=made.vintage)

    done = _("Trade %(id)s proposed.") % {"id": body.get("id", "")}
    return act(request, f"{PREFIX}/trades", done, run)


@router.post("/trades/{trade_id}/accept", include_in_schema=False)
def accept(request: Request, trade_id: IdPath, actor: Acts, form: Form) -> Response:
    del form
    _ = gettext(request)
    done = _("Trade %(id)s accepted.") % {"id": trade_id}
    store = context_of(request).store
    return act(request, f"{PREFIX}/trades", done, lambda: trading.accept(store, actor, trade_id))


@router.post("/trades/{trade_id}/decline", include_in_schema=False)
def decline(request: Request, trade_id: IdPath, actor: Acts, form: Form) -> Response:
    del form
    _ = gettext(request)
    done = _("Trade %(id)s declined.") % {"id": trade_id}
    store = context_of(request).store
    return act(request, f"{PREFIX}/trades", done, lambda: trading.decline(store, actor, trade_id))


@router.get("/compliance", include_in_schema=False)
def compliance_page(request: Request, actor: Acts, party: Party = None) -> Response:
    """Obligations by period: verified emissions, surrendered, shortfall and projected
    shortfall after current holdings, with a chart of emissions against what is held."""
    code = party_of(actor, party)
    found = compliance.statuses_of(context_of(request).store, actor, code)
    _ = gettext(request)
    labels = [str(s.obligation.period) for s in found]
    chart = charts.Chart(
        _("Compliance of %(party)s") % {"party": code},
        _("Verified emissions against allowances surrendered and held, by period."),
        labels,
        [
            charts.Series(
                _("verified emissions"), [Decimal(s.obligation.verified_units) for s in found]
            ),
            charts.Series(_("surrendered"), [Decimal(s.surrendered_units) for s in found]),
            charts.Series(_("held"), [Decimal(s.holdings_units) for s in found]),
        ],
        unit="tCO2",
    )
    return render(request, "compliance.html", party=code, statuses=found, chart=chart)


@router.get("/statement", include_in_schema=False)
def statement(  # noqa: PLR0917 - the statement's coordinates
    request: Request,
    actor: Acts,
    instrument: Annotated[str, Query(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")],
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
    account: Annotated[str, Query(pattern="^(holdings|cash|pledged)$")] = "holdings",
    party: Party = None,
    format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
) -> Response:
    """A statement of one account and instrument, downloaded as CSV or XLSX."""
    code = party_of(actor, party)
    store = context_of(request).store
    table = statements.account_statement(store, actor, code, account, instrument, first, last)
    return download(table, request, format)
