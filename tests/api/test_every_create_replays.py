"""One behaviour for every create, run for every create endpoint of the OpenAPI document.

A create is a POST whose documented success is 201 or 202. Called with a body, each one:

- answers its documented status: 201 with the record, or 202 with the approval request of a
  four-eyes operation (the operator's default four-eyes policy is on here), not marked
  `Idempotent-Replayed`;
- answers the identical retry with the same status and JSON body, marked
  `Idempotent-Replayed: true`: the record, or the same approval request, made once;
- answers another body under the used id (or under the same natural key: a statement's bytes,
  a reconciliation's import, a report's enterprise and period) with a 409 problem;
- and neither the retry nor the refusal changes anything: the record read back, the balances,
  the pending approval requests are what the first call left.

`EXAMPLES` holds a call for each create endpoint and each status it documents: who calls (role
and party), the path, the body, and what differs in the other body. The endpoints are read from
the schema: a new create without an example, and not in `EXEMPT` with its reason, fails.

The examples share one demo registry per backend (`ledger.entrypoints.demo`); each builds what
it needs first (`given`) under ids of its own, so they run in any order, on any worker. The
invariants are checked once per ledger, when the module is done with it.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bench.databases import fresh_database
from ledger.domain.access import Role
from ledger.domain.reports import Method, Period, ReportLine
from ledger.entrypoints import demo
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import queries, reports
from ledger.settings import Settings
from tests.api.support import PROBLEM_JSON, REPLAYED, headers_for
from tests.conftest import BACKENDS, POSTGRES_ADMIN_URL, require_postgres
from tests.factories import actor
from tests.integration.monitoring_support import HEADER, line, stamp
from tests.integration.tax_support import worked_example

Json = dict[str, Any]
Who = tuple[Role, str | None]
Given = Callable[["Ledger"], Json | None]  # what it found, for the example's "{name}"s
SCHEMA: Json = create_app(Settings(database_url="sqlite://")).openapi()

# Creates that cannot answer a retry with the same body, by design.
EXEMPT = {
    "/v1/principals/{principal_id}/enrolments": "answers the asking administrator's half of a "
    "new enrolment code, shown once and never stored: a retry can only ask for another code",
    "/v1/enrolments/redeem": "answers a new token's secret, shown once and stored only as a "
    "hash: a retry cannot be answered the same (and a code redeems once)",
    "/v1/me/tokens": "answers a new token's secret, shown once and stored only as a hash: a "
    "retry cannot be answered the same",
}
# Creates whose whole request is their key: no other body can come under the same key.
NO_OTHER_BODY = {
    "/v1/cems/imports": "keyed by the SHA-256 of the file: other bytes are another import "
    "(`source` is a label, like a statement's filename)",
    "/v1/cems/records": "keyed by the SHA-256 of the records: other records are another import",
    "/v1/parties/{code}/outlets": "keyed by the party and outlet code, all an outlet is (its "
    "standards are its permits')",
    "/v1/obligations/{obligation_id}/close": "keyed by the obligation, its shortfall and the "
    "price: another price is another request (after a rejection the regulator may ask again)",
    "/v1/tax/returns": "the body is the key (party, quarter); refiling a quarter on other data "
    "is `tax_return_exists` (tests/integration/test_tax_returns.py)",
}

# The demo's permit of E02's SINTER-1 (ledger/demo_data/outlets.csv).
PERMIT: Json = {
    "standards": {"SO2": "35", "NOx": "50", "PM": "10"},
    "reference_o2": "16",
    "removal_efficiencies": {"SO2": "0.95", "NOx": "0.80", "PM": "0.99"},
    "reference": "RT-PERMIT",
}
REGULATOR: Who = (Role.REGULATOR, "HEBEI")
TANGSHAN: Who = (Role.CITY_AUTHORITY, "TANGSHAN")
FINANCE: Who = (Role.FINANCE, None)
ADMINISTRATOR: Who = (Role.ADMINISTRATOR, None)
NETWORK: Who = (Role.CEMS_NETWORK, None)


def enterprise(code: str) -> Who:
    return (Role.ENTERPRISE, code)


@dataclass(frozen=True, slots=True)
class Example:
    """`who` POSTs `body` to `path` (answered `status`), then the same body with `changed`
    fields under the same id (a 409 with code `conflict`). A CSV upload's `body` is its bytes
    and `changed` changes its query (`params`). `reads`, read back as `who`, stay the same.

    The path's "{name}" parts and the JSON values "{name}" are what `given` found."""

    endpoint: str  # the path as the OpenAPI document names it
    who: Who
    path: str
    body: Json | bytes
    changed: Json | None
    conflict: str = "record_exists_with_different_definition"
    status: int = 201
    params: dict[str, str] = field(default_factory=dict)
    reads: tuple[str, ...] = ()
    given: Given | None = None
    four_eyes: bool = True  # False: the same database served with four-eyes off

    @property
    def name(self) -> str:
        return f"{self.endpoint} {self.status}" + ("" if self.four_eyes else " four-eyes off")

    def calls(self, found: Json) -> tuple[Call, Call | None]:
        """The call, and the other one (none when the whole request is the key)."""
        path, changed = self.path.format(**found), self.changed or {}
        if isinstance(self.body, bytes):
            first = Call(path, content=self.body, params=self.params)
            other = replace(first, params={**self.params, **changed})
        else:
            body = _filled(self.body, found)
            first = Call(path, json=body)
            other = replace(first, json={**body, **_filled(changed, found)})
        return first, None if self.changed is None else other


@dataclass(frozen=True, slots=True)
class Call:
    path: str
    json: Json | None = None
    content: bytes | None = None  # a CSV file
    params: dict[str, str] = field(default_factory=dict)


def _filled(value: Any, found: Json) -> Any:
    if isinstance(value, dict):
        return {key: _filled(item, found) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, found) for item in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return found[value[1:-1]]
    return value


@dataclass(frozen=True, slots=True)
class Ledger:
    """The demo registry served as the operator has it by default (`client`) and with
    four-eyes off (`plain`), over one database."""

    store: Store
    client: TestClient
    plain: TestClient

    def post(self, call: Call, who: Who, *, four_eyes: bool = True) -> Any:
        headers = self.headers(who)
        if call.content is not None:
            headers["content-type"] = "text/csv"
        client = self.client if four_eyes else self.plain
        return client.post(
            call.path, json=call.json, content=call.content, params=call.params, headers=headers
        )

    def created(
        self, who: Who, path: str, body: Json | bytes, *, four_eyes: bool = True, **params: str
    ) -> Json:
        """POST what an example needs first (JSON, or a CSV file's bytes): it is created."""
        if isinstance(body, bytes):
            call = Call(path, content=body, params=params)
        else:
            call = Call(path, json=body, params=params)
        response = self.post(call, who, four_eyes=four_eyes)
        assert response.status_code == 201, response.text
        made: Json = response.json()
        return made

    def read(self, path: str, who: Who) -> tuple[int, Any]:
        response = self.client.get(path, headers=self.headers(who))
        return response.status_code, response.json()

    def headers(self, who: Who) -> dict[str, str]:
        role, party = who
        return headers_for(self.client, role.value, party=party)


# -- bodies ------------------------------------------------------------------------------------


def transfer(entry_id: str, amount: str, source: str = "TANGSHAN:reserve") -> Json:
    """An adjustment moving `amount` t of SO2-2027 from `source` to the province's reserve:
    between authorities' accounts, one regulator's (an enterprise's account takes four eyes)."""
    postings = [
        {"account": source, "instrument": "SO2-2027", "side": "debit", "amount": amount},
        {"account": "HEBEI:reserve", "instrument": "SO2-2027", "side": "credit", "amount": amount},
    ]
    return {"entry_id": entry_id, "entry_type": "transfer", "postings": postings}


def issuance(entry_id: str, amount: str) -> Json:
    """An adjustment creating rights out of the province's issuance account: four eyes."""
    return {**transfer(entry_id, amount, "HEBEI:issuance"), "entry_type": "adjustment"}


def entitlement(entitlement_id: str, quantity: str) -> Json:
    return {
        "id": entitlement_id,
        "party": "E01",
        "pollutant": "SO2",
        "quantity_t_per_year": quantity,
        "first_vintage": 2026,
    }


def reserve(op_id: str, action: str, authority: str) -> Json:
    """1 t of E01's SO2-2027 to or from an authority."""
    return {
        "id": op_id,
        "action": action,
        "authority": authority,
        "party": "E01",
        "pollutant": "SO2",
        "quantity_t_per_year": "1",
        "first_vintage": 2027,
        "last_vintage": 2027,
    }


def estimate(month: str, outlet: str, mass_kg: str) -> Json:
    """A report line of SO2 estimated by the enterprise."""
    line = {"month": month, "outlet": outlet, "pollutant": "SO2", "method": "estimate"}
    return {**line, "mass_kg": mass_kg}


def statement(reference: str, amount: str, on: str = "2026-01-12") -> bytes:
    """A bank statement of one line."""
    return (
        f"date,reference,amount,counterparty,description\n{on},{reference},{amount},HB,x\n".encode()
    )


def imported_as(content: bytes) -> str:
    """A statement import's id (its reconciliation's is "rec-" and the same digest)."""
    return "stmt-" + hashlib.sha256(content).hexdigest()[:16]


IMPORTED = statement("RT-IMPORT", "10.00")
RECONCILED = statement("RT-RECONCILE", "20.00")
CEMS_FILE = (
    HEADER + "".join(line(stamp(day, 0, date(2025, 5, 1)), outlet="E06,KILN-1") for day in (1, 2))
).encode()
CEMS_RECORD = {
    "enterprise": "E08",
    "outlet": "UNIT-1",
    "pollutant": "SO2",
    "concentration_mg_nm3": "20",
    "dry_flow_nm3_h": "1000000",
    "o2_percent": "6",
    "valid_minutes": 60,
    "flag": "N",
}
CEMS_RECORDS = [{**CEMS_RECORD, "hour_start": stamp(1, h, date(2025, 6, 1))} for h in (0, 1)]


# -- what examples need first ------------------------------------------------------------------


def hold(entry_id: str) -> Given:
    def place(ledger: Ledger) -> None:
        ledger.created(REGULATOR, "/v1/pending-entries", transfer(entry_id, "2"))

    return place


def posted(entry_id: str) -> Given:
    def post(ledger: Ledger) -> None:
        ledger.created(REGULATOR, "/v1/entries", transfer(entry_id, "1"))

    return post


def verified_report(party: str, period: str, lines: list[ReportLine]) -> Given:
    """A report of `party`, drafted and submitted by its enterprise, verified by a verifier."""

    def verify(ledger: Ledger) -> None:
        store = ledger.store
        filer = actor(store, Role.ENTERPRISE, party)
        content = reports.Content(from_monitoring=False, lines=tuple(lines))
        view = reports.draft_report(store, filer, party, Period.parse(period), content).record
        reports.submit_report(store, filer, view.report.id)
        reports.verify_report(store, actor(store, Role.VERIFIER), view.report.id)

    return verify


def agency(*months: date, outlet: str = "SINTER-1") -> list[ReportLine]:
    """The worked example of rules §1.3 (NOx, SO2, soot) in each month, measured by an agency."""
    return [
        replace(x, method=Method.AGENCY, standard_mg=None)  # the standard is the permit's
        for m in months
        for x in worked_example(m, outlet)
    ]


Q2_2026 = (date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1))


def closed_period(ledger: Ledger) -> None:
    closing = Call("/v1/periods/2024-01/close", {"reason": "month end"})
    assert ledger.post(closing, FINANCE).status_code == 200


def surrenderable(ledger: Ledger) -> None:
    """E03 holds 20 tCO2 of CEA-2026 and owes 10 for 2026."""
    issue = {"id": "RT-S-CEA", "party": "E03", "family": "CEA", "year": 2026, "quantity_tco2": "20"}
    ledger.created(REGULATOR, "/v1/carbon-issuances", issue)
    owed = {"id": "RT-S-OBL", "party": "E03", "period": 2026, "verified_emissions_tco2": "10"}
    ledger.created(REGULATOR, "/v1/obligations", {**owed, "deadline": "2027-12-31"})


def overdue(ledger: Ledger) -> None:
    """E04 owed 10 tCO2 for 2024, surrendered none, and its deadline has passed."""
    owed = {"id": "RT-CLOSE-OBL", "party": "E04", "period": 2024, "verified_emissions_tco2": "10"}
    ledger.created(REGULATOR, "/v1/obligations", {**owed, "deadline": "2025-12-31"})


def shortfall_penalised(ledger: Ledger) -> None:
    """E05 owed 10 tCO2 for 2024, surrendered none, and its deadline was closed: it owes the
    shortfall penalty (10 × 98.00 × 5 = 4,900.00 CNY)."""
    owed = {"id": "RT-PAY-OBL", "party": "E05", "period": 2024, "verified_emissions_tco2": "10"}
    ledger.created(REGULATOR, "/v1/obligations", {**owed, "deadline": "2025-12-31"})
    closing = Call("/v1/obligations/RT-PAY-OBL/close", {"average_price_cny": "98.00"})
    assert ledger.post(closing, REGULATOR, four_eyes=False).status_code == 200


def exceeded(month: date) -> list[ReportLine]:
    """The worked example in one month, measured by an agency, with an hourly NOx exceedance."""
    return [
        replace(x, method=Method.AGENCY, standard_mg=None)
        for x in worked_example(month, exceedances=1)
    ]


def penalised(ledger: Ledger) -> None:
    """E02's July 2026 report shows an exceedance; a penalty of 100,000 CNY is booked on it."""
    verified_report("E02", "2026-07", exceeded(date(2026, 7, 1)))(ledger)
    penalty = {"id": "RT-PENALISED", "report": "E02-2026-07-v1", "pollutant": "NOx"}
    booking = Call("/v1/rights-penalties", {**penalty, "amount_cny": "100000.00"})
    assert ledger.post(booking, REGULATOR, four_eyes=False).status_code == 201


def retrofitted(ledger: Ledger) -> None:
    project = {"id": "RT-PROJECT-Y", "party": "E07", "first_revenue_year": 2025}
    project |= {"description": "kiln RT-PROJECT-Y"}
    ledger.created(REGULATOR, "/v1/retrofit-projects", project, four_eyes=False)


def clawed_back_credit(equipment_id: str) -> Callable[[Ledger], None]:
    """E05's equipment credit of 100.00 CNY, clawed back: its basis has room again."""

    def given(ledger: Ledger) -> None:
        credit = {
            "id": equipment_id,
            "party": "E05",
            "investment": "1000.00",
            "acquired_on": "2024-03-01",
            "description": f"filter {equipment_id}",
        }
        ledger.created(REGULATOR, "/v1/equipment-credits", credit, four_eyes=False)
        path = f"/v1/equipment-credits/{equipment_id}/clawback"
        clawback = Call(path, {"transferred_on": "2025-01-01"})
        assert ledger.post(clawback, REGULATOR).status_code == 200

    return given


def auctioned(ledger: Ledger) -> None:
    """Tangshan auctions 1 t/a of its reserve's SO2 from 6,000 CNY/t."""
    offer = {"id": "RT-AUCTION", "seller": "TANGSHAN", "pollutant": "SO2", "quantity": "1"}
    terms = {"mode": "auction", "price_cny_per_t": "6000.00", "listing_date": "2026-03-01"}
    ledger.created(TANGSHAN, "/v1/listings", offer | terms)


def reconcilable(ledger: Ledger) -> None:
    ledger.created(FINANCE, "/v1/statement-imports", RECONCILED, account="E02:cash")


def unmatched(ledger: Ledger) -> Json:
    """A reconciliation of E04's cash against a statement of its deposit less a 10.00 fee: the
    line and the deposit stay unmatched. Their ids, and the reconciliation's."""
    deposited = ledger.read("/v1/accounts/E04:cash/statement?instrument=CNY", FINANCE)[1]
    on = deposited["lines"][0]["effective_at"][:10]
    content = statement("RT-FEE", "4999990.00", on)
    made = ledger.created(FINANCE, "/v1/statement-imports", content, account="E04:cash")
    started = {"import_id": made["import_id"], "date_tolerance_days": 1}  # a Beijing day
    report = ledger.created(FINANCE, "/v1/reconciliations", started)
    return {
        "reconciliation": report["reconciliation_id"],
        "line": report["unmatched_lines"][0]["line_id"],
        "posting": report["unmatched_postings"][0]["posting_id"],
    }


# -- the examples --------------------------------------------------------------------------------

E01_SO2 = "/v1/accounts/E01:holdings/balances/SO2-2027"
RESERVE_SO2 = "/v1/accounts/TANGSHAN:reserve/balances/SO2-2027"
PROVINCE_SO2 = "/v1/accounts/HEBEI:reserve/balances/SO2-2027"
PENDING = "/v1/approvals?state=pending&limit=1000"

EXAMPLES = [
    Example(
        "/v1/principals",
        ADMINISTRATOR,
        "/v1/principals",
        {"id": "rt-clerk", "name": "E01 clerk", "role": "enterprise", "party": "E01"},
        {"name": "E01 buyer"},
        reads=("/v1/principals/rt-clerk",),
    ),
    Example(
        "/v1/instruments",
        REGULATOR,
        "/v1/instruments",
        {"code": "RT-UNIT", "name": "Retry", "kind": "offset", "unit": "t", "scale": 0},
        {"scale": 3},
        "instrument_exists_with_different_definition",
        reads=("/v1/instruments/RT-UNIT",),
    ),
    Example(
        "/v1/accounts",
        REGULATOR,
        "/v1/accounts",
        {"code": "RT-ACCOUNT", "party": "E01", "name": "Side", "normal_side": "credit"}
        | {"non_negative": True},
        {"non_negative": False},
        "account_exists_with_different_definition",
        reads=("/v1/accounts/RT-ACCOUNT",),
    ),
    # -- the raw journal: adjustments, holds, batches ---------------------------------------------
    Example(
        "/v1/entries",
        REGULATOR,
        "/v1/entries",
        transfer("RT-ENTRY", "1"),
        {"memo": "another"},
        "entry_exists_with_different_request",
        reads=("/v1/entries/RT-ENTRY", RESERVE_SO2, PROVINCE_SO2),
    ),
    Example(
        "/v1/entries",
        REGULATOR,
        "/v1/entries",
        issuance("RT-ENTRY-4E", "1"),
        {"memo": "another"},
        status=202,
        reads=("/v1/entries/RT-ENTRY-4E", PROVINCE_SO2),
    ),
    Example(
        "/v1/entries/{entry_id}/reverse",
        REGULATOR,
        "/v1/entries/RT-REVERSED/reverse",
        {"entry_id": "RT-REVERSAL"},
        {"memo": "another"},
        status=202,
        reads=("/v1/entries/RT-REVERSED", "/v1/entries/RT-REVERSAL", PROVINCE_SO2),
        given=posted("RT-REVERSED"),
    ),
    Example(
        "/v1/entries/{entry_id}/reverse",
        REGULATOR,
        "/v1/entries/RT-REVERSED-2/reverse",
        {"entry_id": "RT-REVERSAL-2"},
        {"memo": "another"},
        "entry_exists_with_different_request",
        reads=("/v1/entries/RT-REVERSED-2", "/v1/entries/RT-REVERSAL-2", PROVINCE_SO2),
        given=posted("RT-REVERSED-2"),
        four_eyes=False,  # reversals are four-eyes by default
    ),
    Example(
        "/v1/pending-entries",
        REGULATOR,
        "/v1/pending-entries",
        transfer("RT-HOLD", "1"),
        transfer("RT-HOLD", "2"),
        "entry_exists_with_different_request",
        reads=("/v1/entries/RT-HOLD", RESERVE_SO2),
    ),
    Example(
        "/v1/pending-entries",
        REGULATOR,
        "/v1/pending-entries",
        issuance("RT-HOLD-4E", "1"),
        issuance("RT-HOLD-4E", "2"),
        status=202,
        reads=("/v1/entries/RT-HOLD-4E", PROVINCE_SO2),
    ),
    Example(
        "/v1/pending-entries/{entry_id}/post",
        REGULATOR,
        "/v1/pending-entries/RT-HELD/post",
        {"entry_id": "RT-HELD-POST"},
        {"memo": "another"},
        "entry_exists_with_different_request",
        reads=("/v1/entries/RT-HELD", "/v1/entries/RT-HELD-POST", RESERVE_SO2, PROVINCE_SO2),
        given=hold("RT-HELD"),
    ),
    Example(
        "/v1/pending-entries/{entry_id}/void",
        REGULATOR,
        "/v1/pending-entries/RT-VOIDED/void",
        {"entry_id": "RT-VOID"},
        {"memo": "another"},
        "entry_exists_with_different_request",
        reads=("/v1/entries/RT-VOIDED", "/v1/entries/RT-VOID", RESERVE_SO2),
        given=hold("RT-VOIDED"),
    ),
    Example(
        "/v1/batches",
        REGULATOR,
        "/v1/batches",
        {"entries": [transfer("RT-B1", "1"), transfer("RT-B2", "1")]},
        {"entries": [transfer("RT-B1", "1"), transfer("RT-B2", "2")]},
        "entry_exists_with_different_request",
        reads=("/v1/entries/RT-B1", "/v1/entries/RT-B2", RESERVE_SO2, PROVINCE_SO2),
    ),
    Example(
        "/v1/batches",
        REGULATOR,
        "/v1/batches",
        {"entries": [issuance("RT-B3", "1"), transfer("RT-B4", "1")]},
        {"entries": [issuance("RT-B3", "1"), transfer("RT-B4", "2")]},
        status=202,
        reads=("/v1/entries/RT-B3", "/v1/entries/RT-B4", PROVINCE_SO2),
    ),
    # -- parties and rights -----------------------------------------------------------------------
    Example(
        "/v1/parties",
        REGULATOR,
        "/v1/parties",
        {"code": "RT-E9", "kind": "enterprise", "name": "Steel", "city": "Tangshan"},
        {"city": "Handan"},
        reads=("/v1/parties/RT-E9",),
    ),
    Example(
        "/v1/parties/{code}/outlets",
        TANGSHAN,
        "/v1/parties/E01/outlets",
        {"outlet_code": "RT-UNIT"},
        None,
        reads=("/v1/outlets?party=E01",),
    ),
    Example(
        "/v1/parties/{code}/outlets/{outlet}/permits",
        REGULATOR,
        "/v1/parties/E02/outlets/SINTER-1/permits",
        PERMIT | {"effective_from": "2026-01"},  # the demo's standards again: no relaxation
        {"standards": {"SO2": "30", "NOx": "50", "PM": "10"}},
        reads=("/v1/parties/E02/outlets/SINTER-1/permits",),
    ),
    Example(
        "/v1/parties/{code}/outlets/{outlet}/permits",
        REGULATOR,
        "/v1/parties/E02/outlets/HOTSTOVE-1/permits",
        PERMIT | {"effective_from": "2026-02", "standards": {"SO2": "100"}},  # raised: 4 eyes
        {"standards": {"SO2": "120"}},
        status=202,
        reads=("/v1/parties/E02/outlets/HOTSTOVE-1/permits",),
    ),
    Example(
        "/v1/parties/{code}/penalty-events",
        REGULATOR,
        "/v1/parties/E02/penalty-events",
        {"id": "RT-EVENT", "outlet": "SINTER-1", "reason": "illegal_discharge"}
        | {"first_month": "2026-01", "last_month": "2026-02", "evidence": "bypass found"},
        {"evidence": "another finding"},
        reads=("/v1/parties/E02/penalty-events",),
    ),
    Example(
        "/v1/entitlements",
        TANGSHAN,
        "/v1/entitlements",
        entitlement("RT-ENTITLEMENT", "5"),
        {"quantity_t_per_year": "6"},
        reads=("/v1/entitlements?party=E01", E01_SO2),
    ),
    Example(
        "/v1/entitlements",
        REGULATOR,
        "/v1/entitlements",
        entitlement("RT-ENTITLEMENT-4E", "5000"),  # above the four-eyes threshold
        {"quantity_t_per_year": "5001"},
        status=202,
        reads=("/v1/entitlements?party=E01", E01_SO2),
    ),
    Example(
        "/v1/pledges",
        TANGSHAN,
        "/v1/pledges",
        {"id": "RT-PLEDGE", "party": "E01", "pollutant": "SO2", "quantity_t_per_year": "1"}
        | {"holder": "Bank", "first_vintage": 2027, "last_vintage": 2027},
        {"holder": "Another bank"},
        reads=("/v1/pledges?party=E01", E01_SO2),
    ),
    Example(
        "/v1/trading-blocks",
        TANGSHAN,
        "/v1/trading-blocks",
        {"id": "RT-BLOCK", "party": "E01", "kind": "leasing", "pollutant": "NOx"}
        | {"effective_from": "2026-01-01"},
        {"kind": "unclear_title"},
        reads=("/v1/trading-blocks?party=E01",),
    ),
    Example(
        "/v1/listings",
        TANGSHAN,
        "/v1/listings",
        {"id": "RT-LISTING", "seller": "TANGSHAN", "pollutant": "SO2", "quantity": "1"}
        | {"mode": "fixed_price", "price_cny_per_t": "6000.00", "listing_date": "2026-03-01"},
        {"price_cny_per_t": "7000.00"},
        reads=("/v1/listings?state=open",),
    ),
    Example(
        "/v1/listings/{listing_id}/bids",
        enterprise("E01"),
        "/v1/listings/RT-AUCTION/bids",
        {"id": "RT-BID", "price_cny_per_t": "6000.00"},
        {"price_cny_per_t": "6100.00"},
        reads=("/v1/listings/RT-AUCTION",),
        given=auctioned,
    ),
    Example(
        "/v1/reserve-operations",
        TANGSHAN,
        "/v1/reserve-operations",
        reserve("RT-RECLAIM", "reclaim", "TANGSHAN"),
        {"action": "buy_back", "price_cny_per_t": "6000.00"},
        reads=(E01_SO2, "/v1/accounts/TANGSHAN:reserve/balances/SO2-2027"),
    ),
    Example(
        "/v1/reserve-operations",
        REGULATOR,
        "/v1/reserve-operations",
        reserve("RT-CONFISCATION", "confiscation", "HEBEI"),
        {"quantity_t_per_year": "2"},
        status=202,
        reads=(E01_SO2,),
    ),
    Example(
        "/v1/deposits",
        REGULATOR,
        "/v1/deposits",
        {"id": "RT-DEPOSIT", "party": "E01", "amount_cny": "100.00"},
        {"amount_cny": "100.01"},
        reads=("/v1/accounts/E01:cash/balances/CNY",),
    ),
    Example(
        "/v1/carbon-issuances",
        REGULATOR,
        "/v1/carbon-issuances",
        {"id": "RT-CEA", "party": "E01", "family": "CEA", "year": 2027, "quantity_tco2": "50"},
        {"quantity_tco2": "60"},
        reads=("/v1/accounts/E01:holdings/balances/CEA-2027",),
    ),
    # -- trades and compliance ---------------------------------------------------------------------
    Example(
        "/v1/trades",
        enterprise("E01"),
        "/v1/trades",
        {"id": "RT-TRADE", "seller": "E01", "buyer": "E02", "family": "SO2", "quantity": "1"}
        | {"price_cny_per_t": "6200.00", "trade_date": "2026-03-01"},
        {"quantity": "2"},
        reads=("/v1/trades/RT-TRADE", "/v1/trades?party=E01", E01_SO2),
    ),
    Example(
        "/v1/obligations",
        REGULATOR,
        "/v1/obligations",
        {"id": "RT-OBLIGATION", "party": "E01", "period": 2027, "verified_emissions_tco2": "10"}
        | {"deadline": "2028-12-31"},
        {"verified_emissions_tco2": "11"},
        reads=("/v1/obligations/RT-OBLIGATION/status",),
    ),
    Example(
        "/v1/obligations/{obligation_id}/surrenders",
        enterprise("E03"),
        "/v1/obligations/RT-S-OBL/surrenders",
        {"id": "RT-SURRENDER", "quantity_tco2": "4"},
        {"quantity_tco2": "5"},
        reads=("/v1/obligations/RT-S-OBL/status", "/v1/accounts/E03:holdings/balances/CEA-2026"),
        given=surrenderable,
    ),
    Example(
        "/v1/obligations/{obligation_id}/close",
        REGULATOR,
        "/v1/obligations/RT-CLOSE-OBL/close",
        {"average_price_cny": "98.00"},
        None,
        status=202,
        reads=("/v1/obligations/RT-CLOSE-OBL/status", "/v1/accounts/E04:penalties/balances/CNY"),
        given=overdue,
    ),
    Example(
        "/v1/obligations/{obligation_id}/penalty-payments",
        enterprise("E05"),
        "/v1/obligations/RT-PAY-OBL/penalty-payments",
        {"id": "RT-PAY-SHORTFALL", "amount_cny": "1.00"},
        {"amount_cny": "2.00"},
        reads=("/v1/obligations/RT-PAY-OBL/status", "/v1/accounts/E05:cash/balances/CNY"),
        given=shortfall_penalised,
    ),
    Example(
        "/v1/rights-penalties",
        REGULATOR,
        "/v1/rights-penalties",
        {"id": "RT-PENALTY", "report": "E02-2026-08-v1", "pollutant": "NOx"}
        | {"amount_cny": "100000.00"},
        {"amount_cny": "200000.00"},
        reads=("/v1/rights-penalties/RT-PENALTY", "/v1/accounts/E02:penalties/balances/CNY"),
        given=verified_report("E02", "2026-08", exceeded(date(2026, 8, 1))),
        four_eyes=False,
    ),
    Example(
        "/v1/rights-penalties",
        REGULATOR,
        "/v1/rights-penalties",
        {"id": "RT-PENALTY-4E", "report": "E02-2026-09-v1", "pollutant": "NOx"}
        | {"amount_cny": "100000.00"},
        {"amount_cny": "200000.00"},
        status=202,
        reads=(PENDING,),
        given=verified_report("E02", "2026-09", exceeded(date(2026, 9, 1))),
    ),
    Example(
        "/v1/rights-penalties/{penalty_id}/payments",
        enterprise("E02"),
        "/v1/rights-penalties/RT-PENALISED/payments",
        {"id": "RT-PAYMENT", "amount_cny": "1.00"},
        {"amount_cny": "2.00"},
        reads=("/v1/rights-penalties/RT-PENALISED", "/v1/accounts/E02:cash/balances/CNY"),
        given=penalised,
    ),
    Example(
        "/v1/tax/tables",
        ADMINISTRATOR,
        "/v1/tax/tables",
        {"id": "RT-RATE", "kind": "rate", "valid_from": "2027-01-01", "scheme": "hebei"}
        | {"tier": "3", "category": "so2_nox", "cny_per_equivalent": "6.0"},
        {"cny_per_equivalent": "7.0"},
        status=202,
        reads=("/v1/tax/tables?kind=rate&limit=1000",),
    ),
    # -- finance -----------------------------------------------------------------------------------
    Example(
        "/v1/periods/{label}/reopen",
        FINANCE,
        "/v1/periods/2024-01/reopen",
        {"id": "RT-REOPEN", "reason": "bank correction"},
        {"reason": "another reason"},
        status=202,
        reads=("/v1/periods/2024-01",),
        given=closed_period,
    ),
    Example(
        "/v1/statement-imports",
        FINANCE,
        "/v1/statement-imports",
        IMPORTED,
        {"source": "exchange"},
        params={"account": "E01:cash", "source": "bank"},
        reads=("/v1/accounts/E01:cash/balances/CNY",),
    ),
    Example(
        "/v1/reconciliations",
        FINANCE,
        "/v1/reconciliations",
        {"import_id": imported_as(RECONCILED), "amount_tolerance_fen": 0},
        {"date_tolerance_days": 3},
        reads=("/v1/reconciliations/rec-" + imported_as(RECONCILED).removeprefix("stmt-"),),
        given=reconcilable,
    ),
    Example(
        "/v1/reconciliations/{reconciliation_id}/matches",
        FINANCE,
        "/v1/reconciliations/{reconciliation}/matches",
        {"id": "RT-MATCH", "lines": ["{line}"], "postings": ["{posting}"], "reason": "a fee"},
        {"reason": "rounding"},
        reads=("/v1/reconciliations/{reconciliation}",),
        given=unmatched,
    ),
    # -- monitoring and emission reports -----------------------------------------------------------
    Example(
        "/v1/cems/imports",
        NETWORK,
        "/v1/cems/imports",
        CEMS_FILE,
        None,
        params={"source": "may.csv"},
        reads=("/v1/cems/months?from=2025-05&to=2025-05&enterprise=E06",),
    ),
    Example(
        "/v1/cems/records",
        NETWORK,
        "/v1/cems/records",
        {"records": CEMS_RECORDS},
        None,
        reads=("/v1/cems/months?from=2025-06&to=2025-06&enterprise=E08",),
    ),
    Example(
        "/v1/reports",
        enterprise("E04"),
        "/v1/reports",
        {"enterprise": "E04", "period": "2025-07", "from_monitoring": False}
        | {"lines": [estimate("2025-07", "KILN-1", "100")]},
        {"lines": [estimate("2025-07", "KILN-1", "200")]},
        "report_period_taken",
        reads=("/v1/reports/E04-2025-07-v1", "/v1/reports?enterprise=E04"),
    ),
    Example(
        "/v1/reports/{report_id}/corrections",
        enterprise("E05"),
        "/v1/reports/E05-2025-08-v1/corrections",
        {"from_monitoring": False, "lines": [estimate("2025-08", "FURNACE-1", "120")]},
        {"lines": [estimate("2025-08", "FURNACE-1", "130")]},
        "report_already_corrected",
        reads=("/v1/reports/E05-2025-08-v1", "/v1/reports/E05-2025-08-v2"),
        given=verified_report("E05", "2025-08", agency(date(2025, 8, 1), outlet="FURNACE-1")),
    ),
    # -- tax and incentives ------------------------------------------------------------------------
    Example(
        "/v1/tax/returns",
        enterprise("E01"),
        "/v1/tax/returns",
        {"party": "E01", "quarter": "2026Q2"},
        None,
        reads=("/v1/tax/returns?party=E01", "/v1/incentives?party=E01"),
        given=verified_report("E01", "2026Q2", agency(*Q2_2026)),
    ),
    Example(
        "/v1/equipment-credits",
        REGULATOR,
        "/v1/equipment-credits",
        {"id": "RT-EQUIPMENT", "party": "E05", "investment": "1000.00"}
        | {"acquired_on": "2026-03-01", "description": "filter RT-EQUIPMENT"},
        {"investment": "2000.00"},
        reads=("/v1/incentives/eq-RT-EQUIPMENT",),
        four_eyes=False,
    ),
    Example(
        "/v1/equipment-credits",
        REGULATOR,
        "/v1/equipment-credits",
        {"id": "RT-EQUIPMENT-4E", "party": "E05", "investment": "1000.00"}
        | {"acquired_on": "2026-03-01", "description": "filter RT-EQUIPMENT-4E"},
        {"investment": "2000.00"},
        status=202,
        reads=(PENDING,),
    ),
    Example(
        "/v1/incentives",
        REGULATOR,
        "/v1/incentives",
        {"id": "RT-INCENTIVE", "basis_id": "equipment-RT-BASIS", "amount": "50.00"},
        {"amount": "60.00"},
        reads=("/v1/incentives/RT-INCENTIVE", "/v1/incentives?party=E05"),
        given=clawed_back_credit("RT-BASIS"),
        four_eyes=False,
    ),
    Example(
        "/v1/incentives",
        REGULATOR,
        "/v1/incentives",
        {"id": "RT-INCENTIVE-4E", "basis_id": "equipment-RT-BASIS-4E", "amount": "50.00"},
        {"amount": "60.00"},
        status=202,
        reads=(PENDING,),
        given=clawed_back_credit("RT-BASIS-4E"),
    ),
    Example(
        "/v1/equipment-credit-years",
        REGULATOR,
        "/v1/equipment-credit-years",
        {"party": "E08", "year": 2025, "cit_payable_cny": "10.00"},
        {"cit_payable_cny": "11.00"},
        reads=("/v1/parties/E08/equipment-credit-years",),
        four_eyes=False,
    ),
    Example(
        "/v1/equipment-credit-years",
        REGULATOR,
        "/v1/equipment-credit-years",
        {"party": "E06", "year": 2025, "cit_payable_cny": "10.00"},
        {"cit_payable_cny": "11.00"},
        status=202,
        reads=(PENDING,),
    ),
    Example(
        "/v1/retrofit-projects",
        REGULATOR,
        "/v1/retrofit-projects",
        {"id": "RT-PROJECT", "party": "E07", "first_revenue_year": 2025}
        | {"description": "kiln RT-PROJECT"},
        {"first_revenue_year": 2024},
        reads=("/v1/retrofit-projects/RT-PROJECT",),
        four_eyes=False,
    ),
    Example(
        "/v1/retrofit-projects",
        REGULATOR,
        "/v1/retrofit-projects",
        {"id": "RT-PROJECT-4E", "party": "E07", "first_revenue_year": 2025}
        | {"description": "kiln RT-PROJECT-4E"},
        {"first_revenue_year": 2024},
        status=202,
        reads=(PENDING,),
    ),
    Example(
        "/v1/retrofit-projects/{project_id}/years",
        REGULATOR,
        "/v1/retrofit-projects/RT-PROJECT-Y/years",
        {"year": 2025, "income_cny": "400.00"},
        {"income_cny": "500.00"},
        reads=("/v1/retrofit-projects/RT-PROJECT-Y",),
        given=retrofitted,
        four_eyes=False,
    ),
    Example(
        "/v1/retrofit-projects/{project_id}/years",
        REGULATOR,
        "/v1/retrofit-projects/RT-PROJECT-Y/years",
        {"year": 2026, "income_cny": "400.00"},
        {"income_cny": "500.00"},
        status=202,
        reads=(PENDING,),
        given=retrofitted,
    ),
    Example(
        "/v1/reductions",
        REGULATOR,
        "/v1/reductions",
        {"id": "RT-REDUCTION", "report_id": "E02-2026Q2-v1", "pollutant": "SO2"}
        | {"release": "tradable"},
        {"release": "none"},
        reads=("/v1/reductions?party=E02", "/v1/accounts/E02:holdings/balances/SO2-2026"),
        given=verified_report("E02", "2026Q2", agency(*Q2_2026)),
    ),
]


# -- the schema's creates, and the examples' cover of them ---------------------------------------


def documented_creates() -> dict[str, set[int]]:
    """Every POST of the schema documenting a 201 or 202 success, with those statuses."""
    creates = {}
    for path, operations in SCHEMA["paths"].items():
        responses = operations.get("post", {}).get("responses", {})
        statuses = {int(status) for status in responses if status in ("201", "202")}
        if statuses:
            creates[path] = statuses
    return creates


def test_every_create_of_the_schema_has_an_example_of_each_status_or_a_reason() -> None:
    creates = documented_creates()
    assert "/v1/entries" in creates and len(creates) > 30  # the schema was read
    covered: dict[str, set[int]] = {}
    for example in EXAMPLES:
        covered.setdefault(example.endpoint, set()).add(example.status)
    missing = {
        path: sorted(statuses - covered.get(path, set()))
        for path, statuses in creates.items()
        if path not in EXEMPT and statuses - covered.get(path, set())
    }

    assert missing == {}, "creates without an example of these documented statuses"
    assert set(covered) | set(EXEMPT) <= set(creates), "examples or exemptions of no create"
    assert not set(covered) & set(EXEMPT)


def test_only_creates_keyed_by_their_whole_request_lack_another_body() -> None:
    lacking = {example.endpoint for example in EXAMPLES if example.changed is None}
    assert lacking == set(NO_OTHER_BODY)


# -- the ledger the examples share ---------------------------------------------------------------


@pytest.fixture
def invariants_hold_afterwards() -> None:
    """Overrides tests/api/conftest.py's per-test check (and its fresh database per test): the
    module's ledgers are checked once, when the module is done with them."""


@contextmanager
def demo_ledger(url: str) -> Iterator[Ledger]:
    settings = Settings(
        database_url=url, failed_auth_limit="1000000/minute", request_limit="1000000/minute"
    )
    store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"))
    demo.load(store)
    plain = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"))
    as_deployed = create_app(settings, store=store)
    four_eyes_off = create_app(settings.model_copy(update={"four_eyes": frozenset()}), store=plain)
    with TestClient(as_deployed) as client, TestClient(four_eyes_off) as plain_client:
        yield Ledger(store, client, plain_client)
        assert queries.check_invariants(store, actor(store)) == []


@pytest.fixture(scope="module", params=BACKENDS)
def ledger(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Ledger]:
    """The demo registry on each backend; PostgreSQL's in a database of its own (the session's
    is truncated by other modules' tests, which xdist may run in between)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("replays") / "ledger.db"
        shutil.copyfile(sqlite_template, path)
        with demo_ledger(f"sqlite:///{path}") as shared:
            yield shared
        return
    require_postgres()
    with (
        fresh_database("postgresql", "replays", POSTGRES_ADMIN_URL) as database,
        demo_ledger(database.url) as shared,
    ):
        yield shared


# -- the contract ----------------------------------------------------------------------------------


def read_back(ledger: Ledger, example: Example, found: Json, answer: Json) -> list[Any]:
    """What the example reads, and for a four-eyes answer its request and the pending ones."""
    paths = [path.format(**found) for path in example.reads]
    if example.status == 202:
        paths += [f"/v1/approvals/{answer.get('id') or answer['request_id']}", PENDING]
    return [ledger.read(path, example.who) for path in paths]


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_a_create_answers_a_retry_as_the_first_time_and_another_body_with_409(
    ledger: Ledger, example: Example
) -> None:
    found = (example.given(ledger) if example.given else None) or {}
    call, other = example.calls(found)
    first = ledger.post(call, example.who, four_eyes=example.four_eyes)
    assert first.status_code == example.status, first.text
    assert REPLAYED not in first.headers
    made = read_back(ledger, example, found, first.json())

    again = ledger.post(call, example.who, four_eyes=example.four_eyes)
    assert (again.status_code, again.headers.get(REPLAYED)) == (example.status, "true"), again.text
    assert again.json() == first.json()
    if other is not None:
        refused = ledger.post(other, example.who, four_eyes=example.four_eyes)
        assert (refused.status_code, refused.headers["content-type"]) == (409, PROBLEM_JSON)
        assert refused.json()["code"] == example.conflict, refused.json()

    assert read_back(ledger, example, found, first.json()) == made
