"""The registry's parties and rights: parties (with their chart of accounts), outlets, cities,
the policy, entitlements, pledges, reserve operations, cash deposits, carbon issuance and
vintage expiry. Translation only: every rule lives in the services."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Path, Query, Response

from api import registry_schemas as rs
from api.answers import PENDING, created, or_pending
from api.auth import Acts
from api.dependencies import Cursor, Filter, IdPath, Store
from api.routing import Routes
from ledger.domain.amounts import parse_decimal
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.registry import (
    CHART,
    City,
    CityYear,
    Outlet,
    Party,
    PartyKind,
    Policy,
    account_code,
)
from ledger.services import blocks, parties, penalty_basis, permits, rights

router = Routes(prefix="/v1")
T = TypeVar("T")
R = TypeVar("R")

PartyPath = Annotated[str, Path(max_length=32, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]


def _party_out(party: Party) -> rs.PartyOut:
    return rs.party_out(party, [account_code(party.code, line) for line in CHART[party.kind]])


@router.post("/parties", response_model=rs.PartyOut, status_code=201, tags=["parties"])
def register_party(body: rs.PartyIn, store: Store, actor: Acts, response: Response) -> rs.PartyOut:
    """Register a party; its chart of accounts opens with it. The same definition again: the
    party, marked `Idempotent-Replayed`."""
    party = Party(
        body.code,
        PartyKind(body.kind),
        body.name,
        body.credit_code,
        body.city,
        body.county,
        body.tax_tier,
        body.industry,
    )
    return created(response, parties.register_party(store, actor, party), _party_out)


@router.get("/parties", response_model=rs.PartyPage, tags=["parties"])
def list_parties(  # noqa: PLR0917 - query parameters
    store: Store,
    actor: Acts,
    kind: Annotated[str | None, Query(pattern="^(enterprise|authority|exchange)$")] = None,
    city: Filter = None,
    name: Filter = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.PartyPage:
    """Parties in registration order, filtered by kind, city and a part of the name (ignoring
    case); follow `next_cursor`."""
    page = parties.list_parties(
        store, actor, PartyKind(kind) if kind else None, city, cursor, limit, name=name
    )
    return rs.PartyPage(parties=[_party_out(p) for p in page.items], next_cursor=page.next_cursor)


@router.get("/parties/{code}", response_model=rs.PartyOut, tags=["parties"])
def get_party(code: PartyPath, store: Store, actor: Acts) -> rs.PartyOut:
    """One party and its accounts."""
    return _party_out(parties.get_party(store, actor, code))


@router.post(
    "/parties/{code}/outlets", response_model=rs.OutletOut, status_code=201, tags=["parties"]
)
def add_outlet(
    code: PartyPath, body: rs.OutletIn, store: Store, actor: Acts, response: Response
) -> rs.OutletOut:
    """Register an outlet of an enterprise (its standards are set by its permits)."""
    outlet = Outlet(code, body.outlet_code)
    return created(response, parties.add_outlet(store, actor, outlet), rs.outlet_out)


OutletPath = Annotated[str, Path(min_length=1, max_length=64)]


@router.post(
    "/parties/{code}/outlets/{outlet}/permits",
    response_model=rs.PermitOut,
    status_code=201,
    tags=["parties"],
    responses=PENDING,
)
def set_permit(  # noqa: PLR0917 - path, body and dependencies
    code: PartyPath,
    outlet: OutletPath,
    body: rs.PermitIn,
    store: Store,
    actor: Acts,
    response: Response,
) -> Any:
    """A regulator sets the outlet's permit from a month on: standards, reference O2, removal
    efficiencies, CEMS obligation. A permit that lowers tax: 202 and an approval request."""
    made = permits.set_permit(store, actor, body.to_domain(code, outlet))
    return or_pending(made, lambda done: created(response, done, rs.permit_out))


@router.post(
    "/parties/{code}/penalty-events",
    response_model=rs.PenaltyEventOut,
    status_code=201,
    tags=["parties"],
)
def record_penalty_event(
    code: PartyPath, body: rs.PenaltyEventIn, store: Store, actor: Acts, response: Response
) -> rs.PenaltyEventOut:
    """A regulator records a penalty-basis event (no networked CEMS, tampering, illegal
    discharge, false return) against an outlet for a span of months, with its evidence: the tax
    of those months is computed on the generated amount, without reduction."""
    made = penalty_basis.record_event(store, actor, body.to_domain(code))
    return created(response, made, rs.penalty_event_out)


@router.get("/parties/{code}/penalty-events", response_model=rs.PenaltyEventList, tags=["parties"])
def list_penalty_events(code: PartyPath, store: Store, actor: Acts) -> rs.PenaltyEventList:
    """The party's penalty-basis events (an enterprise sees its own)."""
    found = penalty_basis.list_events(store, actor, code)
    return rs.PenaltyEventList(events=[rs.penalty_event_out(e) for e in found])


@router.get(
    "/parties/{code}/outlets/{outlet}/permits", response_model=rs.PermitList, tags=["parties"]
)
def list_permits(code: PartyPath, outlet: OutletPath, store: Store, actor: Acts) -> rs.PermitList:
    """Every permit of the outlet, oldest first; the one in force in a month is the latest that
    took effect by then."""
    found = permits.list_permits(store, actor, code, outlet)
    return rs.PermitList(permits=[rs.permit_out(p) for p in found])


@router.get("/outlets", response_model=rs.OutletPage, tags=["parties"])
def list_outlets(
    store: Store,
    actor: Acts,
    party: Filter = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.OutletPage:
    """Outlets, filtered by party; follow `next_cursor`."""
    page = parties.list_outlets(store, actor, party, cursor, limit)
    return rs.OutletPage(
        outlets=[rs.outlet_out(o) for o in page.items], next_cursor=page.next_cursor
    )


CityName = Annotated[str, Path(max_length=64)]
CityYearPath = Annotated[int, Path(ge=2000, le=2100)]


@router.put("/cities/{name}", response_model=rs.CityOut, tags=["parties"])
def set_city(name: CityName, body: rs.CityIn, store: Store, actor: Acts) -> rs.CityOut:
    """Make a city known (an enterprise in an unknown city receives no air-pollutant rights),
    with its river basin; its eligibility is decided per year."""
    parties.set_city(store, actor, City(name, body.basin))
    return _city_out(*parties.get_city(store, actor, name))


@router.put("/cities/{name}/years/{year}", response_model=rs.CityYearOut, tags=["parties"])
def decide_city_year(
    name: CityName, year: CityYearPath, body: rs.CityYearIn, store: Store, actor: Acts
) -> rs.CityYearOut:
    """Whether the city may receive air-pollutant rights in `year` (it met the prior year's
    air-quality standard); deciding again replaces the year's decision."""
    decision = CityYear(name, year, body.may_receive_air_rights, body.basis)
    parties.decide_city_year(store, actor, decision)
    return _city_year_out(decision)


@router.get("/cities/{name}", response_model=rs.CityOut, tags=["parties"])
def get_city(name: CityName, store: Store, actor: Acts) -> rs.CityOut:
    """A city, its basin and its eligibility decisions by year."""
    return _city_out(*parties.get_city(store, actor, name))


def _city_out(city: City, years: list[CityYear]) -> rs.CityOut:
    return rs.CityOut(
        name=city.name, basin=city.basin, years=[_city_year_out(year) for year in years]
    )


def _city_year_out(decision: CityYear) -> rs.CityYearOut:
    return rs.CityYearOut(
        year=decision.year,
        may_receive_air_rights=decision.may_receive_air_rights,
        basis=decision.basis,
    )


@router.get("/policy", response_model=rs.PolicyModel, tags=["parties"])
def get_policy(store: Store, actor: Acts) -> rs.PolicyModel:
    """The registry's configurable rules."""
    return _policy_out(parties.get_policy(store, actor))


def _policy_out(policy: Policy) -> rs.PolicyModel:
    return rs.PolicyModel(
        floor_cny_per_t={k: rs.cny(v) for k, v in policy.floor_fen_per_t.items()},
        buy_back_ceiling_cny_per_t={
            k: rs.cny(v) for k, v in policy.buy_back_ceiling_fen_per_t.items()
        },
        fee_rate=str(policy.fee_rate),
        check_city_eligibility=policy.check_city_eligibility,
        check_basin=policy.check_basin,
        holding_limit_t={k: rs.tonnes(v, k) for k, v in policy.holding_limit_units.items()},
        ccer_cap=str(policy.ccer_cap),
        penalty_multiplier=str(policy.penalty_multiplier),
    )


@router.put("/policy", response_model=rs.PolicyModel, tags=["parties"])
def set_policy(body: rs.PolicyModel, store: Store, actor: Acts) -> rs.PolicyModel:
    """Replace the registry's configurable rules."""
    policy = parties.set_policy(
        store,
        actor,
        Policy(
            floor_fen_per_t={
                k: rs.fen(v, "floor_cny_per_t") for k, v in body.floor_cny_per_t.items()
            },
            buy_back_ceiling_fen_per_t={
                k: rs.fen(v, "buy_back_ceiling_cny_per_t")
                for k, v in body.buy_back_ceiling_cny_per_t.items()
            },
            fee_rate=parse_decimal(body.fee_rate, field="fee_rate"),
            check_city_eligibility=body.check_city_eligibility,
            check_basin=body.check_basin,
            holding_limit_units={
                k: rs.quantity_units(v, k, "holding_limit_t")
                for k, v in body.holding_limit_t.items()
            },
            ccer_cap=parse_decimal(body.ccer_cap, field="ccer_cap"),
            penalty_multiplier=parse_decimal(body.penalty_multiplier, field="penalty_multiplier"),
        ),
    )
    return _policy_out(policy)


# -- rights ----------------------------------------------------------------------------------


@router.post(
    "/entitlements",
    response_model=rs.EntitlementOut,
    status_code=201,
    tags=["rights"],
    responses=PENDING,
)
def confirm_entitlement(
    body: rs.EntitlementIn, store: Store, actor: Acts, response: Response
) -> Any:
    """Confirm rights in t/a for 5 vintages: one `allocation` entry per vintage, atomically.
    Above the four-eyes threshold: 202 and an approval request instead."""
    confirmed = rights.confirm_entitlement(store, actor, body.to_domain(), body.business_date)
    return or_pending(confirmed, lambda made: created(response, made, rs.entitlement_out))


@router.get("/entitlements", response_model=rs.EntitlementPage, tags=["rights"])
def list_entitlements(  # noqa: PLR0917 - query parameters
    store: Store,
    actor: Acts,
    party: Filter = None,
    pollutant: Filter = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.EntitlementPage:
    """Entitlements, filtered by party and pollutant; follow `next_cursor`."""
    page = rights.list_entitlements(store, actor, party, pollutant, cursor, limit)
    return rs.EntitlementPage(
        entitlements=[rs.entitlement_out(e) for e in page.items], next_cursor=page.next_cursor
    )


@router.post("/pledges", response_model=rs.PledgeOut, status_code=201, tags=["rights"])
def pledge(body: rs.PledgeIn, store: Store, actor: Acts, response: Response) -> rs.PledgeOut:
    """Pledge rights: they move to the pledged account and can be neither sold nor surrendered."""
    made = rights.pledge(store, actor, body.to_domain(), body.business_date)
    return created(response, made, rs.pledge_out)


@router.post("/pledges/{pledge_id}/release", response_model=rs.PledgeOut, tags=["rights"])
def release_pledge(
    pledge_id: IdPath, store: Store, actor: Acts, body: rs.PledgeReleaseIn | None = None
) -> rs.PledgeOut:
    """Release a pledge: the rights return to the holdings account (on `business_date`)."""
    day = None if body is None else body.business_date
    return rs.pledge_out(rights.release_pledge(store, actor, pledge_id, day))


@router.get("/pledges", response_model=rs.PledgePage, tags=["rights"])
def list_pledges(  # noqa: PLR0917 - query parameters
    store: Store,
    actor: Acts,
    party: Filter = None,
    pollutant: Filter = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.PledgePage:
    """Pledges, filtered by party and pollutant; follow `next_cursor`."""
    page = rights.list_pledges(store, actor, party, pollutant, cursor, limit)
    return rs.PledgePage(
        pledges=[rs.pledge_out(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.post("/trading-blocks", response_model=rs.BlockOut, status_code=201, tags=["rights"])
def set_block(body: rs.BlockIn, store: Store, actor: Acts, response: Response) -> rs.BlockOut:
    """Block a party under enforcement (it may not receive rights), or its leased or
    unclear-title rights (they may not be transferred), from a business date."""
    return created(response, blocks.set_block(store, actor, body.to_domain()), rs.block_out)


@router.post("/trading-blocks/{block_id}/lift", response_model=rs.BlockOut, tags=["rights"])
def lift_block(block_id: IdPath, body: rs.BlockLiftIn, store: Store, actor: Acts) -> rs.BlockOut:
    """Lift a block from a business date (on which it no longer applies): only an authority
    whose scope covers that of the authority that set it (the province lifts a city's block, a
    city never the province's)."""
    return rs.block_out(blocks.lift_block(store, actor, block_id, body.lifted_on))


@router.get("/trading-blocks", response_model=rs.BlockPage, tags=["rights"])
def list_blocks(
    store: Store,
    actor: Acts,
    party: Filter = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.BlockPage:
    """Blocks, lifted or not, filtered by party; follow `next_cursor`."""
    page = blocks.list_blocks(store, actor, party, cursor, limit)
    return rs.BlockPage(blocks=[rs.block_out(b) for b in page.items], next_cursor=page.next_cursor)


@router.post(
    "/reserve-operations",
    response_model=rs.EntriesOut,
    status_code=201,
    tags=["rights"],
    responses=PENDING,
)
def reserve_operation(
    body: rs.ReserveOperationIn, store: Store, actor: Acts, response: Response
) -> Any:
    """Reserve sale, buy-back, reclaim, confiscation or cancellation: one entry of that type.
    Confiscations, cancellations and buy-backs need four eyes: 202 and an approval request. A
    buy-back pays at most the policy's ceiling, and naming no entitlement only for rights bought."""
    booked = rights.reserve_operation(store, actor, rs.reserve_command(body))
    return or_pending(
        booked,
        lambda made: created(
            response, made, lambda records: rs.EntriesOut(entry_ids=[r.entry_id for r in records])
        ),
    )


@router.post("/deposits", response_model=rs.DepositOut, status_code=201, tags=["rights"])
def deposit(body: rs.DepositIn, store: Store, actor: Acts, response: Response) -> rs.DepositOut:
    """Cash paid in by a party at the exchange (a `deposit` entry)."""
    made = rights.deposit_cash(
        store, actor, body.id, body.party, rs.fen(body.amount_cny, "amount_cny"), body.business_date
    )
    return created(response, made, rs.deposit_out)


@router.post(
    "/carbon-issuances", response_model=rs.CarbonIssueOut, status_code=201, tags=["rights"]
)
def issue_carbon(
    body: rs.CarbonIssueIn, store: Store, actor: Acts, response: Response
) -> rs.CarbonIssueOut:
    """Allocate CEA of a year (less any shortfall deducted at last year's deadline) or CCER."""
    made = rights.issue_carbon(
        store,
        actor,
        body.id,
        party_code=body.party,
        family=body.family,
        year=body.year,
        units=rs.quantity_units(body.quantity_tco2, body.family, "quantity_tco2"),
        business_date=body.business_date,
    )
    return created(response, made, lambda issued: rs.CarbonIssueOut(issued_tco2=str(issued)))


@router.post("/vintages/{family}/{year}/expire", response_model=dict[str, int], tags=["rights"])
def expire_vintage(
    family: Annotated[str, Path(max_length=16)], year: int, store: Store, actor: Acts
) -> dict[str, int]:
    """Retire every unit still held of a past vintage; it can no longer move afterwards."""
    return {"accounts_emptied": rights.expire_vintage(store, actor, family, year)}
