"""An enterprise's pages: holdings, trade proposals, compliance and statements.

An enterprise sees its own party; an authority or another reader names the party (`?party=`)
and sees it if its scope does (the use cases decide: out of scope is the party's 404).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api import registry_schemas as rs
from api.console import charts, i18n
from api.console.pages_monitoring import emissions_against_entitlement
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
    party_of,
    render,
)
from api.dependencies import Cursor, IdPath
from ledger.domain.access import Actor
from ledger.domain.limits import PAGE_SIZE_DEFAULT, YEAR_MAX, YEAR_MIN
from ledger.domain.ports import UnitOfWorkFactory
from ledger.domain.registry import PLEDGED, Trade, TradeState, scale_of
from ledger.services import compliance, parties, queries, statements, trading

router = APIRouter()
FAMILIES = ("SO2", "NOx", "COD", "NH3-N", "CEA", "CCER")


@dataclass(frozen=True, slots=True)
class Holding:
    """One instrument of a party: available, on hold for accepted trades, pledged."""

    instrument: str
    unit: str
    available: Decimal
    on_hold: Decimal
    pledged: Decimal


@router.get("/holdings", include_in_schema=False)
def holdings(request: Request, actor: Acts, party: Party = None, page: PageNumber = 1) -> Response:
    """Holdings by instrument and vintage (available, on hold, pledged) a page at a time, a
    chart per unit of the page's rows, and the current vintage's holdings at the last three
    month-ends."""
    code = party_of(actor, party)
    store = context_of(request).store
    posted: dict[tuple[str, str], Decimal] = {}
    units: dict[str, str] = {}
    for account, instrument, unit, balance in statements.holdings(store, actor, code):
        assert isinstance(balance, Decimal) and isinstance(instrument, str)
        units[instrument] = str(unit)
        posted[str(account), instrument] = balance
    held = f"{code}:holdings"
    on_hold = _on_hold(store, actor, held) if any(a == held for a, _ in posted) else {}
    rows = []
    for instrument in sorted(units):
        if instrument == "CNY":
            continue
        zero = Decimal(0).scaleb(-scale_of(instrument.rsplit("-", 1)[0]))  # "0.000" t
        rows.append(
            Holding(
                instrument,
                units[instrument],
                posted.get((held, instrument), zero) - on_hold.get(instrument, zero),
                on_hold.get(instrument, zero),
                posted.get((f"{code}:{PLEDGED.suffix}", instrument), zero),
            )
        )
    cash = posted.get((f"{code}:cash", "CNY"))
    shown = numbered(rows, page)
    by_unit = [
        (_holdings_chart(request, code, unit, [r for r in shown.rows if r.unit == unit]), unit)
        for unit in sorted({r.unit for r in shown.rows})
    ]
    return render(
        request,
        "holdings.html",
        party=code,
        rows=rows,  # every instrument, for the statement form
        shown=shown,
        charts=by_unit,
        cash=cash,
        history=_history(request, actor, code),
    )


def _on_hold(store: UnitOfWorkFactory, actor: Actor, account: str) -> dict[str, Decimal]:
    """What pending entries (accepted trades) may still take from the account, by instrument."""
    return {
        view.instrument.code: view.instrument.to_amount(
            view.balance.posted - view.balance.available
        )
        for view in queries.get_balances(store, actor, account)
    }


def _holdings_chart(request: Request, code: str, unit: str, rows: list[Holding]) -> charts.Chart:
    _ = gettext(request)
    return charts.Chart(
        _("Holdings of %(party)s in %(unit)s") % {"party": code, "unit": unit},
        _("Available, on hold and pledged holdings by instrument and vintage."),
        [r.instrument for r in rows],
        [
            charts.Series(_("available"), [r.available for r in rows]),
            charts.Series(_("on hold"), [r.on_hold for r in rows]),
            charts.Series(_("pledged"), [r.pledged for r in rows]),
        ],
        unit=unit,
    )


HISTORY_MONTHS = 3  # each point is one as-of report: keep the page under 200 ms


def _history(request: Request, actor: Actor, code: str) -> tuple[charts.Chart, list[str]] | None:
    """This year's vintage of each pollutant held at each of the last month-ends (and today)."""
    today = datetime.now(i18n.CHINA_STANDARD_TIME).date()
    ends = [_month_end(today, back) for back in range(HISTORY_MONTHS, 0, -1)] + [today]
    store = context_of(request).store
    series: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(ends))
    for index, end in enumerate(ends):
        for account, instrument, _unit, balance in statements.holdings(store, actor, code, end):
            if account == f"{code}:holdings" and str(instrument).endswith(f"-{today.year}"):
                assert isinstance(balance, Decimal)
                if not str(instrument).startswith(("CEA", "CCER")):
                    series[str(instrument)][index] = balance
    if not series:
        return None
    _ = gettext(request)
    chart = charts.Chart(
        _("Holdings of %(party)s over time") % {"party": code},
        _("This year's vintage of each pollutant held at the end of each month (t)."),
        [end.isoformat() for end in ends],
        [charts.Series(name, values) for name, values in sorted(series.items())],
        unit="t",
    )
    return chart, sorted(series)


def _month_end(today: date, back: int) -> date:
    """The last day of the month `back` months before today's."""
    first = today.replace(day=1)
    for _ in range(back - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return first - timedelta(days=1)


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
        accepted=TradeState.ACCEPTED,
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


@router.post("/trades/{trade_id}/rescind", include_in_schema=False)
def rescind(request: Request, trade_id: IdPath, actor: Acts, form: Form) -> Response:
    """The proposer withdraws its proposal (a hold, if any, is released)."""
    del form
    _ = gettext(request)
    done = _("Trade %(id)s rescinded.") % {"id": trade_id}
    store = context_of(request).store
    return act(request, f"{PREFIX}/trades", done, lambda: trading.rescind(store, actor, trade_id))


@router.post("/trades/{trade_id}/record", include_in_schema=False)
def record(request: Request, trade_id: IdPath, actor: Acts, form: Form) -> Response:
    """The authority records an accepted trade: rights, cash and fees settle at once."""
    del form
    _ = gettext(request)
    done = _("Trade %(id)s recorded: settled.") % {"id": trade_id}
    store = context_of(request).store
    return act(request, f"{PREFIX}/trades", done, lambda: trading.record(store, actor, trade_id))


@router.post("/trades/{trade_id}/refuse", include_in_schema=False)
def refuse(request: Request, trade_id: IdPath, actor: Acts, form: Form) -> Response:
    """The authority refuses an accepted trade, with a reason; the hold is released."""
    _ = gettext(request)
    done = _("Trade %(id)s refused.") % {"id": trade_id}
    reason = form.get("reason", "")
    store = context_of(request).store
    return act(
        request,
        f"{PREFIX}/trades",
        done,
        lambda: trading.refuse(store, actor, trade_id, reason),
    )


@router.get("/compliance", include_in_schema=False)
def compliance_page(
    request: Request,
    actor: Acts,
    party: Party = None,
    year: Annotated[int | None, Query(ge=YEAR_MIN, le=YEAR_MAX)] = None,
    page: PageNumber = 1,
) -> Response:
    """Obligations by period (a page at a time): verified emissions, surrendered, shortfall and
    projected shortfall after current holdings, with a chart of the page's periods; for each
    obligation of the page closed with a shortfall, its penalty booked, paid and outstanding."""
    code = party_of(actor, party)
    statuses = numbered(compliance.statuses_of(context_of(request).store, actor, code), page)
    found = statuses.rows
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
    shown = year or datetime.now(i18n.CHINA_STANDARD_TIME).year
    against = emissions_against_entitlement(request, actor, code, shown)
    return render(
        request,
        "compliance.html",
        party=code,
        statuses=statuses,
        chart=chart,
        against=against,
        penalised=[s for s in found if s.obligation.closed and s.shortfall_units],
        fen=lambda value: Decimal(value).scaleb(-2),
        year=year or "",
    )
