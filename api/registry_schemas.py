"""Wire format of the registry: parties, outlets, cities, entitlements, pledges, reserve
operations, trades, obligations and surrenders; and their conversions to and from the domain.

Quantities are decimal strings in t (scale 3) or tCO2 (scale 0); prices and cash in CNY with
2 places. Nothing is rounded on the way in: a finer amount is refused.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from api.schemas import NO_NUL, AmountText, BusinessDate, Instant, Name, Strict
from ledger.domain.amounts import parse_decimal, to_units
from ledger.domain.bounds import parse_month
from ledger.domain.penalty_basis import PenaltyBasisEvent, PenaltyReason
from ledger.domain.permits import Permit
from ledger.domain.ports import TradeEvent
from ledger.domain.registry import (
    UNDISCLOSED,
    Acquisition,
    Bid,
    BlockKind,
    ComplianceStatus,
    Deduction,
    Entitlement,
    Listing,
    ListingMode,
    Obligation,
    Outlet,
    Party,
    Pledge,
    Trade,
    TradingBlock,
    scale_of,
)
from ledger.domain.tax_tables import Pollutant as TaxPollutant
from ledger.services import rights

PartyCode = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]
RecordId = Annotated[
    str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]
Family = Literal["SO2", "NOx", "PM", "VOCs", "COD", "NH3-N", "CEA", "CCER"]
Pollutant = Literal["SO2", "NOx", "PM", "VOCs", "COD", "NH3-N"]
Year = Annotated[int, Field(ge=2000, le=2100)]
Text = Annotated[str, Field(max_length=200), NO_NUL]
Dated = Annotated[
    BusinessDate | None,
    Field(
        description="the business date (Beijing day): the entry takes effect at its start; not "
        "in the future nor in a closed period; omitted: the day it is written"
    ),
]


def quantity_units(text: str, family: str, field: str = "quantity") -> int:
    """A positive quantity of a family's unit (t: 3 places, tCO2: none) as integer units."""
    return to_units(parse_decimal(text, field=field), scale_of(family), field=field)


def fen(text: str, field: str = "price", *, zero_allowed: bool = False) -> int:
    """CNY to fen; zero only where `zero_allowed` (a trade price with a stated reason)."""
    value = parse_decimal(text, field=field)
    if zero_allowed and value == 0:
        return 0
    return to_units(value, 2, field=field)


def tonnes(units: int, family: str) -> str:
    scale = scale_of(family)
    return f"{Decimal(units).scaleb(-scale):.{scale}f}"


def cny(units: int) -> str:
    return f"{Decimal(units).scaleb(-2):.2f}"


# -- parties ---------------------------------------------------------------------------------


class PartyIn(Strict):
    code: PartyCode
    kind: Literal["enterprise", "authority", "exchange"]
    name: Name
    credit_code: Annotated[str, Field(max_length=32), NO_NUL] = ""
    city: Annotated[str, Field(max_length=64), NO_NUL] = ""
    county: Annotated[str, Field(max_length=64), NO_NUL] = ""
    tax_tier: (
        Annotated[
            int,
            Field(
                ge=1,
                le=3,
                description="not read by the tax: the tier follows the city and county "
                "(GET /v1/tax/parties/{code}/schedule)",
                json_schema_extra={"deprecated": True},
            ),
        ]
        | None
    ) = None
    industry: Annotated[str, Field(max_length=64), NO_NUL] = ""


class PartyOut(PartyIn):
    accounts: list[str]


class PartyPage(Strict):
    parties: list[PartyOut]
    next_cursor: str | None


class OutletIn(Strict):
    """An outlet; its standards are its permits' (`POST .../outlets/{outlet}/permits`)."""

    outlet_code: Annotated[str, Field(min_length=1, max_length=64), NO_NUL]


class OutletOut(OutletIn):
    party: str


PollutantKey = Annotated[str, Field(min_length=1, max_length=16), NO_NUL]


class PermitIn(Strict):
    """An outlet's permit from a month on, as a regulator sets it (rules.md §7.4)."""

    effective_from: Annotated[
        str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="first month in force, 'YYYY-MM'")
    ]
    standards: dict[PollutantKey, AmountText] = Field(
        default_factory=dict, description="measured pollutant → hourly limit in mg/Nm³"
    )
    reference_o2: AmountText | None = Field(None, description="O2 % the standards are at")
    removal_efficiencies: dict[PollutantKey, AmountText] = Field(
        default_factory=dict, description="measured pollutant → design removal efficiency η, 0–1"
    )
    cems_required: bool = False
    reference: Annotated[str, Field(max_length=64), NO_NUL] = Field(
        "", description="the permit document's number"
    )
    particulate_as: Literal["soot", "general_dust"] = Field(
        "soot", description="what the outlet's measured PM is taxed as (rules §1.2)"
    )

    def to_domain(self, party: str, outlet: str) -> Permit:
        def numbers(values: dict[str, str], name: str) -> dict[str, Decimal]:
            return {k: parse_decimal(v, field=f"{name}.{k}") for k, v in values.items()}

        o2 = self.reference_o2
        return Permit(
            party=party,
            outlet=outlet,
            effective_from=parse_month(self.effective_from, "effective_from"),
            standards=numbers(self.standards, "standards"),
            reference_o2=None if o2 is None else parse_decimal(o2, field="reference_o2"),
            removal_efficiencies=numbers(self.removal_efficiencies, "removal_efficiencies"),
            cems_required=self.cems_required,
            reference=self.reference,
            particulate=TaxPollutant(self.particulate_as),
        )


class PenaltyEventIn(Strict):
    """A penalty-basis event a regulator records against an outlet (rules.md §7.3)."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    outlet: Annotated[str, Field(min_length=1, max_length=64), NO_NUL]
    reason: Literal["no_networked_cems", "cems_tampered", "illegal_discharge", "false_return"]
    first_month: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="'YYYY-MM'")]
    last_month: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="'YYYY-MM'")]
    evidence: Annotated[str, Field(min_length=1, max_length=500), NO_NUL] = Field(
        description="what the finding rests on: inspection report, case number, ..."
    )
    generated_kg: dict[PollutantKey, AmountText] = Field(
        default_factory=dict,
        description="measured pollutant → generated mass a month (kg), where η is unknown",
    )

    def to_domain(self, party: str) -> PenaltyBasisEvent:
        return PenaltyBasisEvent(
            id=self.id,
            party=party,
            outlet=self.outlet,
            reason=PenaltyReason(self.reason),
            first_month=parse_month(self.first_month, "first_month"),
            last_month=parse_month(self.last_month, "last_month"),
            evidence=self.evidence,
            generated_kg={
                k: parse_decimal(v, field=f"generated_kg.{k}") for k, v in self.generated_kg.items()
            },
        )


class PenaltyEventOut(Strict):
    id: str
    party: str
    outlet: str
    reason: str
    first_month: str
    last_month: str
    evidence: str
    generated_kg: dict[str, str]
    recorded_by: str
    recorded_at: Instant | None


class PenaltyEventList(Strict):
    events: list[PenaltyEventOut]


def penalty_event_out(e: PenaltyBasisEvent) -> PenaltyEventOut:
    return PenaltyEventOut(
        id=e.id,
        party=e.party,
        outlet=e.outlet,
        reason=e.reason.value,
        first_month=f"{e.first_month:%Y-%m}",
        last_month=f"{e.last_month:%Y-%m}",
        evidence=e.evidence,
        generated_kg={k: str(v) for k, v in e.generated_kg.items()},
        recorded_by=e.recorded_by,
        recorded_at=e.recorded_at,
    )


class PermitOut(Strict):
    party: str
    outlet: str
    effective_from: str
    standards: dict[str, str]
    reference_o2: str | None
    removal_efficiencies: dict[str, str]
    cems_required: bool
    reference: str
    particulate_as: str
    set_by: str
    set_at: Instant | None


class PermitList(Strict):
    permits: list[PermitOut]


def permit_out(p: Permit) -> PermitOut:
    return PermitOut(
        party=p.party,
        outlet=p.outlet,
        effective_from=f"{p.effective_from:%Y-%m}",
        standards={k: str(v) for k, v in p.standards.items()},
        reference_o2=None if p.reference_o2 is None else str(p.reference_o2),
        removal_efficiencies={k: str(v) for k, v in p.removal_efficiencies.items()},
        cems_required=p.cems_required,
        reference=p.reference,
        particulate_as=p.particulate.value,
        set_by=p.set_by,
        set_at=p.set_at,
    )


class OutletPage(Strict):
    outlets: list[OutletOut]
    next_cursor: str | None


class CityIn(Strict):
    basin: Annotated[str, Field(max_length=64), NO_NUL] = ""


class CityYearIn(Strict):
    """Whether the city may receive air-pollutant rights in the year: it met the prior year's
    air-quality standard."""

    may_receive_air_rights: bool
    basis: Text = ""


class CityYearOut(CityYearIn):
    year: Year


class CityOut(CityIn):
    name: str
    years: list[CityYearOut] = []


def _default_floors() -> dict[Pollutant, str]:
    return {"SO2": "5000.00", "NOx": "6000.00", "COD": "4000.00", "NH3-N": "8000.00"}


class PolicyModel(Strict):
    floor_cny_per_t: dict[Pollutant, AmountText] = Field(default_factory=_default_floors)
    # A buy-back pays at most this per t (public money); by default the benchmark (the floor).
    buy_back_ceiling_cny_per_t: dict[Pollutant, AmountText] = Field(default_factory=_default_floors)
    fee_rate: AmountText = "0.015"
    check_city_eligibility: bool = True
    check_basin: bool = True
    holding_limit_t: dict[Pollutant, AmountText] = Field(default_factory=dict)
    ccer_cap: AmountText = "0.05"
    penalty_multiplier: AmountText = "5"


# -- rights ----------------------------------------------------------------------------------


class EntitlementIn(Strict):
    id: RecordId
    party: PartyCode
    pollutant: Pollutant
    quantity_t_per_year: AmountText
    first_vintage: Year
    permit: Annotated[str, Field(max_length=64), NO_NUL] = ""
    business_date: Dated = None
    acquisition: Literal["free", "paid"] = "free"  # allocated free, or paid use

    def to_domain(self) -> Entitlement:
        return Entitlement(
            self.id,
            self.party,
            self.pollutant,
            quantity_units(self.quantity_t_per_year, self.pollutant, "quantity_t_per_year"),
            self.first_vintage,
            self.first_vintage + 4,
            self.permit,
            Acquisition(self.acquisition),
        )


class EntitlementOut(Strict):
    id: str
    party: str
    pollutant: str
    quantity_t_per_year: str
    first_vintage: int
    last_vintage: int
    permit: str
    acquisition: str


def entitlement_out(e: Entitlement) -> EntitlementOut:
    return EntitlementOut(
        id=e.id,
        party=e.party_code,
        pollutant=e.pollutant,
        quantity_t_per_year=tonnes(e.units, e.pollutant),
        first_vintage=e.first_vintage,
        last_vintage=e.last_vintage,
        permit=e.permit,
        acquisition=e.acquisition.value,
    )


class EntitlementPage(Strict):
    entitlements: list[EntitlementOut]
    next_cursor: str | None


class PledgeIn(Strict):
    id: RecordId
    party: PartyCode
    pollutant: Pollutant
    quantity_t_per_year: AmountText
    holder: Name
    first_vintage: Year
    last_vintage: Year
    business_date: Dated = None

    def to_domain(self) -> Pledge:
        units = quantity_units(self.quantity_t_per_year, self.pollutant, "quantity_t_per_year")
        return Pledge(
            self.id,
            self.party,
            self.pollutant,
            units,
            self.holder,
            self.first_vintage,
            self.last_vintage,
        )


class PledgeReleaseIn(Strict):
    business_date: Dated = None


class PledgeOut(Strict):
    id: str
    party: str
    pollutant: str
    quantity_t_per_year: str
    holder: str
    first_vintage: int
    last_vintage: int
    released: bool


def pledge_out(p: Pledge) -> PledgeOut:
    return PledgeOut(
        id=p.id,
        party=p.party_code,
        pollutant=p.pollutant,
        quantity_t_per_year=tonnes(p.units, p.pollutant),
        holder=p.holder,
        first_vintage=p.first_vintage,
        last_vintage=p.last_vintage,
        released=p.released,
    )


class PledgePage(Strict):
    pledges: list[PledgeOut]
    next_cursor: str | None


class ReserveOperationIn(Strict):
    id: RecordId
    action: Literal["reserve_sale", "buy_back", "reclaim", "confiscation", "cancellation"]
    authority: PartyCode
    party: PartyCode | None = None
    pollutant: Pollutant
    quantity_t_per_year: AmountText
    first_vintage: Year
    last_vintage: Year
    price_cny_per_t: AmountText = "0"
    business_date: Dated = None
    # A reclaim or buy-back names the entitlement whose surplus it takes back.
    entitlement: RecordId | None = None


class EntriesOut(Strict):
    entry_ids: list[str]


class DepositIn(Strict):
    id: RecordId
    party: PartyCode
    amount_cny: AmountText
    business_date: Dated = None


class DepositOut(Strict):
    id: str
    party: str
    amount_cny: str
    entry_id: str


def deposit_out(made: rights.Deposit) -> DepositOut:
    return DepositOut(
        id=made.id, party=made.party_code, amount_cny=cny(made.fen), entry_id=made.entry_id
    )


class CarbonIssueIn(Strict):
    id: RecordId
    party: PartyCode
    family: Literal["CEA", "CCER"]
    year: Year | None = None
    quantity_tco2: AmountText
    business_date: Dated = None


class CarbonIssueOut(Strict):
    issued_tco2: str


# -- trades ----------------------------------------------------------------------------------


class TradeIn(Strict):
    id: RecordId
    seller: PartyCode
    buyer: PartyCode
    proposer: PartyCode | None = Field(default=None, description="optional: the caller's party")
    family: Family
    quantity: AmountText = Field(description="t/a (moved in every remaining vintage) or tCO2")
    price_cny_per_t: AmountText = Field(description="mandatory; zero needs zero_price_reason")
    trade_date: BusinessDate = Field(
        description="the trade's business date: its hold and settlement take effect at its start; "
        "not in the future, not before the earliest vintage traded, not in a closed period"
    )
    vintage: Year | None = Field(default=None, description="compliance year of a CEA trade")
    mode: Annotated[str, Field(max_length=64), NO_NUL] = "negotiated"
    zero_price_reason: Text = ""
    expires_at: Instant | None = None

    def to_domain(self) -> Trade:
        return Trade(
            id=self.id,
            seller=self.seller,
            buyer=self.buyer,
            proposer=self.proposer or "",
            family=self.family,
            units=quantity_units(self.quantity, self.family),
            price_fen=fen(self.price_cny_per_t, "price_cny_per_t", zero_allowed=True),
            first_vintage=None,
            last_vintage=None,
            trade_date=self.trade_date,
            mode=self.mode,
            zero_price_reason=self.zero_price_reason,
            expires_at=self.expires_at,
        )


class ListingIn(Strict):
    """Reserve rights offered by their authority (the caller's party): at a fixed price, or by
    auction from a starting price; both at least the benchmark (floor) price."""

    id: RecordId = Field(description="also the id of the sale's trade")
    seller: PartyCode
    pollutant: Pollutant
    quantity: AmountText = Field(description="t/a, sold in every remaining vintage")
    mode: Literal["fixed_price", "auction"]
    price_cny_per_t: AmountText = Field(description="the price, or the auction's starting price")
    listing_date: BusinessDate = Field(description="the sale's trade date")

    def to_domain(self) -> Listing:
        return Listing(
            id=self.id,
            seller=self.seller,
            family=self.pollutant,
            units=quantity_units(self.quantity, self.pollutant),
            price_fen=fen(self.price_cny_per_t, "price_cny_per_t"),
            mode=ListingMode(self.mode),
            listing_date=self.listing_date,
        )


class BidIn(Strict):
    """A bid in an auction. Send `id`: a retry under it answers the bid it made (even once
    outbid or closed) instead of a refusal; without one, each call is a new bid, and a lost
    answer's retry is refused as not above the best bid (which it has become)."""

    id: RecordId | None = Field(
        default=None,
        description="your id of this bid, unique within the listing: a retry under it is "
        "answered alike (recommended; optional for clients written before bids had ids)",
    )
    price_cny_per_t: AmountText
    actor: PartyCode | None = Field(default=None, description="optional: always the caller's party")


class BidOut(Strict):
    id: str | None = Field(
        description="the bidder's id of the bid (none if sent without one), shown where the "
        "bidder is"
    )
    bidder: str | None = Field(description="named to the bidder, the seller and oversight")
    price_cny_per_t: str
    at: str
    outcome: str


class ListingOut(Strict):
    id: str
    state: str
    seller: str
    pollutant: str
    quantity: str
    mode: str
    price_cny_per_t: str
    listing_date: date
    first_vintage: int
    last_vintage: int
    bids: list[BidOut] = []


def bid_out(made: Bid) -> BidOut:
    return BidOut(
        id=made.client_id,
        bidder=made.bidder or None,
        price_cny_per_t=cny(made.price_fen),
        at=made.at.isoformat(),
        outcome=made.outcome,
    )


def listing_out(listing: Listing, bids: list[Bid] | None = None) -> ListingOut:
    return ListingOut(
        id=listing.id,
        state=listing.state.value,
        seller=listing.seller,
        pollutant=listing.family,
        quantity=tonnes(listing.units, listing.family),
        mode=listing.mode.value,
        price_cny_per_t=cny(listing.price_fen),
        listing_date=listing.listing_date,
        first_vintage=listing.first_vintage,
        last_vintage=listing.last_vintage,
        bids=[bid_out(b) for b in bids or []],
    )


class ListingPage(Strict):
    listings: list[ListingOut]
    next_cursor: str | None


class TradeActionIn(Strict):
    actor: PartyCode | None = Field(default=None, description="optional: always the caller's party")
    reason: Text = ""


class TradeEventOut(Strict):
    state: str
    actor: str
    at: str
    note: str


class TradeOut(Strict):
    id: str
    state: str
    seller: str
    buyer: str
    proposer: str
    family: str
    quantity: str
    price_cny_per_t: str
    first_vintage: int | None
    last_vintage: int | None
    trade_date: date
    mode: str
    zero_price_reason: str
    history: list[TradeEventOut] | None = None


def trade_out(trade: Trade, events: list[TradeEvent] | None = None) -> TradeOut:
    return TradeOut(
        id=trade.id,
        state=trade.state.value,
        seller=trade.seller,
        buyer=trade.buyer,
        proposer=trade.proposer,
        family=trade.family,
        quantity=tonnes(trade.units, trade.family),
        price_cny_per_t=cny(trade.price_fen),
        first_vintage=trade.first_vintage,
        last_vintage=trade.last_vintage,
        trade_date=trade.trade_date,
        mode=trade.mode,
        zero_price_reason=trade.zero_price_reason,
        history=None
        if events is None
        else [
            TradeEventOut(state=e.state.value, actor=e.actor, at=e.at.isoformat(), note=e.note)
            for e in events
        ],
    )


class TradePage(Strict):
    trades: list[TradeOut]
    next_cursor: str | None


# -- compliance ------------------------------------------------------------------------------


class ObligationIn(Strict):
    id: RecordId
    party: PartyCode
    period: Year
    verified_emissions_tco2: AmountText
    deadline: BusinessDate

    def to_domain(self) -> Obligation:
        verified = quantity_units(self.verified_emissions_tco2, "CEA", "verified_emissions_tco2")
        return Obligation(self.id, self.party, self.period, verified, self.deadline)


class ObligationOut(Strict):
    id: str
    party: str
    period: int
    verified_emissions_tco2: str
    deadline: date
    closed: bool
    penalty_cny: str
    deducted_from_next_allocation_tco2: str


def obligation_out(o: Obligation) -> ObligationOut:
    return ObligationOut(
        id=o.id,
        party=o.party_code,
        period=o.period,
        verified_emissions_tco2=str(o.verified_units),
        deadline=o.deadline,
        closed=o.closed,
        penalty_cny=cny(o.penalty_fen),
        deducted_from_next_allocation_tco2=str(o.deduction_units),
    )


class ObligationPage(Strict):
    obligations: list[ObligationOut]
    next_cursor: str | None


class SurrenderIn(Strict):
    id: RecordId
    quantity_tco2: AmountText
    instrument: Annotated[str, Field(max_length=32, pattern=r"^(CEA-[0-9]{4}|CCER)$")] | None = None
    business_date: Dated = None


class SurrenderOut(Strict):
    instrument: str
    quantity_tco2: str


class DeadlineIn(Strict):
    average_price_cny: AmountText = Field(
        description="the month's average price before the deadline"
    )


class StatusOut(Strict):
    obligation: ObligationOut
    surrendered_tco2: str
    ccer_tco2: str
    shortfall_tco2: str
    holdings_tco2: str
    projected_shortfall_tco2: str
    deducted_tco2: str = Field(description="of the shortfall, deducted from allocations so far")
    deduction_outstanding_tco2: str = Field(description="of the shortfall, still to deduct")
    penalty_paid_cny: str = Field(description="of the shortfall penalty, paid so far")
    penalty_outstanding_cny: str = Field(description="of the shortfall penalty, still owed")


def status_out(s: ComplianceStatus) -> StatusOut:
    return StatusOut(
        obligation=obligation_out(s.obligation),
        surrendered_tco2=str(s.surrendered_units),
        ccer_tco2=str(s.ccer_units),
        shortfall_tco2=str(s.shortfall_units),
        holdings_tco2=str(s.holdings_units),
        projected_shortfall_tco2=str(s.projected_shortfall_units),
        deducted_tco2=str(s.deducted_units),
        deduction_outstanding_tco2=str(s.deduction_outstanding_units),
        penalty_paid_cny=cny(s.penalty_paid_fen),
        penalty_outstanding_cny=cny(s.penalty_outstanding_fen),
    )


class DeductionOut(Strict):
    id: str
    obligation: str
    party: str
    allocation: str
    year: int
    allocated_tco2: str
    deducted_tco2: str


def deduction_out(d: Deduction) -> DeductionOut:
    return DeductionOut(
        id=d.id,
        obligation=d.obligation_id,
        party=d.party_code,
        allocation=d.allocation_id,
        year=d.year,
        allocated_tco2=str(d.allocated_units),
        deducted_tco2=str(d.units),
    )


class DeductionPage(Strict):
    deductions: list[DeductionOut]
    next_cursor: str | None


def outlet_out(o: Outlet) -> OutletOut:
    return OutletOut(party=o.party_code, outlet_code=o.outlet_code)


def party_out(p: Party, accounts: list[str]) -> PartyOut:
    return PartyOut(
        code=p.code,
        kind=p.kind.value,
        name=p.name,
        credit_code=p.credit_code,
        city=p.city,
        county=p.county,
        tax_tier=p.tax_tier,
        industry=p.industry,
        accounts=accounts,
    )


def reserve_command(body: ReserveOperationIn) -> rights.ReserveOperation:
    return rights.ReserveOperation(
        id=body.id,
        action=rights.ReserveAction(body.action),
        authority=body.authority,
        pollutant=body.pollutant,
        units=quantity_units(body.quantity_t_per_year, body.pollutant, "quantity_t_per_year"),
        first_vintage=body.first_vintage,
        last_vintage=body.last_vintage,
        party=body.party,
        price_fen=fen(body.price_cny_per_t, "price_cny_per_t", zero_allowed=True),
        business_date=body.business_date,
        entitlement=body.entitlement,
    )


class BlockIn(Strict):
    """A regulator's block: `enforcement` (the party may not receive rights), `leasing` or
    `unclear_title` (its rights of `pollutant`, or all if none, may not be transferred)."""

    id: RecordId
    party: PartyCode
    kind: Literal["enforcement", "leasing", "unclear_title"]
    effective_from: BusinessDate
    pollutant: Pollutant | None = None
    basis: Text = ""

    def to_domain(self) -> TradingBlock:
        return TradingBlock(
            self.id,
            self.party,
            BlockKind(self.kind),
            self.effective_from,
            self.pollutant or "",
            self.basis,
        )


class BlockLiftIn(Strict):
    lifted_on: BusinessDate


class BlockSetterOut(Strict):
    """The authority that set a block: the province (`city` null; also every block set before
    the ledger recorded its setter) or a city's; an authority lifts a block only if its scope
    covers the setter's."""

    authority: Literal["province", "city"]
    city: str | None


class BlockOut(Strict):
    id: str
    party: str
    kind: str
    pollutant: str | None
    effective_from: date
    lifted_on: date | None
    basis: str
    set_by: BlockSetterOut | None = Field(
        None, description="who set the block; null in an enterprise's answers"
    )


def block_out(block: TradingBlock) -> BlockOut:
    """A block as answered; who set it, unless the service left it undisclosed (an enterprise)."""
    city = block.set_by_city
    setter = None
    if city != UNDISCLOSED:
        setter = BlockSetterOut(authority="province" if city is None else "city", city=city)
    return BlockOut(
        id=block.id,
        party=block.party_code,
        kind=block.kind.value,
        pollutant=block.pollutant or None,
        effective_from=block.effective_from,
        lifted_on=block.lifted_on,
        basis=block.basis,
        set_by=setter,
    )


class BlockPage(Strict):
    blocks: list[BlockOut]
    next_cursor: str | None
