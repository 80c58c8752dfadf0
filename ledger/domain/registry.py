"""The registry's business records and rules: parties, their chart of accounts, instruments per
pollutant and vintage, entitlements, pledges, trades and their state machine, obligations, and
the money arithmetic (each rounding stated once, in a named function).

Pure: no I/O. The services load records through `ports.RegistryRepository`, decide with the
functions here, and write journal entries through the journal use cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from ledger.domain.accounts import Side
from ledger.domain.amounts import Instrument, InstrumentKind
from ledger.domain.bounds import check_text, is_digits
from ledger.domain.errors import (
    BidTooLow,
    BuyerUnderEnforcement,
    CityMayNotReceive,
    CityUnknown,
    InvalidField,
    PriceBelowFloor,
    PriceZeroWithoutReason,
    RightsBlocked,
    SurrenderExceedsObligation,
    TradePartyInvalid,
    TradeStateInvalid,
    VintageAfterComplianceYear,
)

CASH = "CNY"
CCER = "CCER"
CARBON = "CEA"
VALIDITY_YEARS = 5  # an entitlement is confirmed for 5 vintages
AIR_POLLUTANTS = frozenset({"SO2", "NOx", "PM", "VOCs"})
WATER_POLLUTANTS = frozenset({"COD", "NH3-N"})
POLLUTANTS = AIR_POLLUTANTS | WATER_POLLUTANTS
RIGHTS_SCALE = 3  # tonnes to the kilogram
CARBON_SCALE = 0  # whole tCO2


class PartyKind(Enum):
    ENTERPRISE = "enterprise"
    AUTHORITY = "authority"
    EXCHANGE = "exchange"


@dataclass(frozen=True, slots=True)
class Party:
    """An enterprise, an authority (the province or a city) or the exchange."""

    code: str
    kind: PartyKind
    name: str
    credit_code: str = ""  # unified social credit code (enterprises)
    city: str = ""
    county: str = ""
    tax_tier: int | None = None
    industry: str = ""


@dataclass(frozen=True, slots=True)
class Outlet:
    """A discharge outlet of an enterprise; what it may emit is its permit's
    (`ledger.domain.permits`), set by a regulator."""

    party_code: str
    outlet_code: str


@dataclass(frozen=True, slots=True)
class City:
    """A city the registry knows, and its river basin. Whether it may receive air-pollutant
    rights is decided per year (`CityYear`)."""

    name: str
    basin: str = ""


@dataclass(frozen=True, slots=True)
class CityYear:
    """Whether a city may receive air-pollutant rights in `year`: it met the prior year's
    air-quality standard (rules §4, §7.11). `basis` says what the decision rests on."""

    city: str
    year: int
    may_receive_air_rights: bool
    basis: str = ""


def check_receiving_city(  # noqa: PLR0917 - the rule's inputs, read by the caller
    family: str,
    giver: Party,
    receiver: Party,
    year: int,
    city: City | None,
    decision: CityYear | None,
) -> None:
    """Rules §7.11: an enterprise receives air-pollutant rights from outside its own city only if
    its city is known and met the prior year's air-quality standard, decided for `year` (the
    trade's or sale's year). Within one city nothing is checked; nor for water rights or carbon.
    `city` and `decision` are the receiver's city and its decision for `year`, if any."""
    if family not in AIR_POLLUTANTS or (receiver.city and receiver.city == giver.city):
        return
    if city is None:
        named = f"city {receiver.city!r}" if receiver.city else "no city"
        raise CityUnknown(
            f"{receiver.code} is in {named}, which the registry does not know: it may not receive "
            "air-pollutant rights",
            field="buyer",
        )
    if decision is None:
        raise CityUnknown(
            f"no decision says whether {city.name} may receive air-pollutant rights in {year}",
            field="buyer",
        )
    if not decision.may_receive_air_rights:
        raise CityMayNotReceive(
            f"{receiver.code}'s city {city.name} may not receive air-pollutant rights in {year}",
            field="buyer",
        )


# -- the chart of accounts -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChartLine:
    """One account every party of a kind gets: `{party}:{suffix}`."""

    suffix: str
    name: str
    normal_side: Side
    non_negative: bool


HOLDINGS = ChartLine("holdings", "holdings", Side.CREDIT, True)
CASH_ACCOUNT = ChartLine("cash", "cash", Side.CREDIT, True)
PLEDGED = ChartLine("pledged", "pledged holdings", Side.CREDIT, True)
SURRENDERED = ChartLine("surrendered", "surrendered for compliance", Side.CREDIT, True)
PENALTIES = ChartLine("penalties", "penalties owed", Side.DEBIT, False)
ISSUANCE = ChartLine("issuance", "issuance", Side.DEBIT, False)
RESERVE = ChartLine("reserve", "government reserve", Side.CREDIT, True)
RETIREMENT = ChartLine("retirement", "retirement", Side.CREDIT, True)
CANCELLATION = ChartLine("cancellation", "cancellation", Side.CREDIT, True)
REVENUE = ChartLine("revenue", "revenue", Side.CREDIT, True)
BUDGET = ChartLine("cash", "budget cash", Side.CREDIT, False)  # may be drawn below zero
DEPOSITS = ChartLine("deposits", "members' cash deposits", Side.DEBIT, False)

CHART: dict[PartyKind, tuple[ChartLine, ...]] = {
    PartyKind.ENTERPRISE: (HOLDINGS, CASH_ACCOUNT, PLEDGED, SURRENDERED, PENALTIES),
    PartyKind.AUTHORITY: (ISSUANCE, RESERVE, RETIREMENT, CANCELLATION, REVENUE, BUDGET),
    PartyKind.EXCHANGE: (HOLDINGS, CASH_ACCOUNT, REVENUE, DEPOSITS),
}
PROVINCE = "HEBEI"  # the issuing authority of every instrument


def account_code(party: str, line: ChartLine | str) -> str:
    """`E01:holdings`, `TANGSHAN:reserve`, …"""
    suffix = line if isinstance(line, str) else line.suffix
    return f"{party}:{suffix}"


def locked_last(code: str) -> bool:
    """Whether an account's balances are locked after every other balance a transaction locks:
    a revenue account, which every priced trade (the exchange's fees) or every reserve sale (an
    authority's proceeds) credits. A use case that checks other balances first may lock these
    only when it writes (`journal.lock(..., defer_last=True)`), so writers queue on the one
    shared row for the write alone; locking them last everywhere keeps the one order that
    writers never wait for each other in a circle in."""
    return code.endswith(f":{REVENUE.suffix}")


def rights_account(party: Party) -> str:
    """Where a party keeps rights it may sell: an authority's reserve, else its holdings."""
    return account_code(party.code, RESERVE if party.kind is PartyKind.AUTHORITY else HOLDINGS)


def proceeds_account(party: Party) -> str:
    """Where a seller's sale proceeds go: an authority's revenue (non-tax), else its cash."""
    return account_code(party.code, REVENUE if party.kind is PartyKind.AUTHORITY else CASH_ACCOUNT)


# -- instruments -----------------------------------------------------------------------------


def check_pollutant(pollutant: str) -> str:
    if pollutant not in POLLUTANTS and pollutant != CARBON:
        raise InvalidField(f"unknown pollutant {pollutant!r}", field="pollutant")
    return pollutant


def instrument_code(family: str, vintage: int | None) -> str:
    """`SO2-2026`, `CEA-2024`; CCER and CNY carry no vintage."""
    return family if vintage is None else f"{family}-{vintage}"


def instrument_for(family: str, vintage: int | None) -> Instrument:
    """The instrument of a pollutant's right (t, scale 3) or carbon unit (tCO2, scale 0)."""
    code = instrument_code(family, vintage)
    if family == CASH:
        return Instrument(CASH, "Chinese yuan", InstrumentKind.CASH, "CNY", 2)
    if family == CCER:
        return Instrument(code, "CCER offset", InstrumentKind.OFFSET, "tCO2", CARBON_SCALE)
    if family == CARBON:
        name = f"Carbon emission allowance {vintage}"
        return Instrument(code, name, InstrumentKind.CARBON_ALLOWANCE, "tCO2", CARBON_SCALE)
    check_pollutant(family)
    name = f"{family} emission right, vintage {vintage}"
    return Instrument(code, name, InstrumentKind.EMISSION_RIGHT, "t", RIGHTS_SCALE)


def scale_of(family: str) -> int:
    return CARBON_SCALE if family in (CARBON, CCER) else RIGHTS_SCALE


def validity(first_vintage: int) -> tuple[int, ...]:
    """The vintages an entitlement confirmed from `first_vintage` covers (5 years)."""
    return tuple(range(first_vintage, first_vintage + VALIDITY_YEARS))


# -- entitlements and pledges ------------------------------------------------------------------


class Acquisition(Enum):
    """How rights were acquired (rules §4): allocated free, or paid for (paid use)."""

    FREE = "free"
    PAID = "paid"


@dataclass(frozen=True, slots=True)
class Entitlement:
    """Rights confirmed for a party: `units` per year of each vintage in its validity, acquired
    free or paid (which decides whether its surplus is reclaimed or bought back)."""

    id: str
    party_code: str
    pollutant: str
    units: int
    first_vintage: int
    last_vintage: int
    permit: str = ""
    acquisition: Acquisition = Acquisition.FREE

    @property
    def vintages(self) -> tuple[int, ...]:
        return tuple(range(self.first_vintage, self.last_vintage + 1))


@dataclass(frozen=True, slots=True)
class Pledge:
    """Rights pledged as collateral: moved to the pledged account until released."""

    id: str
    party_code: str
    pollutant: str
    units: int
    holder: str
    first_vintage: int
    last_vintage: int
    released: bool = False

    @property
    def vintages(self) -> tuple[int, ...]:
        return tuple(range(self.first_vintage, self.last_vintage + 1))


# -- trading blocks ------------------------------------------------------------------------------


class BlockKind(Enum):
    """What a regulator's block says (rules §4, §7.11): the party is under enforcement (it may
    not buy), or its rights are leased or of unclear title (it may not sell them)."""

    ENFORCEMENT = "enforcement"
    LEASING = "leasing"
    UNCLEAR_TITLE = "unclear_title"


UNDISCLOSED = ""  # a block's setter as an enterprise reads it: not said (None is the province)


@dataclass(frozen=True, slots=True)
class TradingBlock:
    """A block a regulator set on a party from `effective_from`, until the day it is lifted
    (`lifted_on`, exclusive). A leasing or unclear-title block names the pollutant whose rights
    it holds ("" for all of them); an enforcement block names none. `set_by_city`: the city of
    the authority that set it, None for the province (an unlimited scope; also every block set
    before migration 0025 recorded it): only an authority whose scope covers it may lift it."""

    id: str
    party_code: str
    kind: BlockKind
    effective_from: date
    pollutant: str = ""
    basis: str = ""
    lifted_on: date | None = None
    set_by_city: str | None = None  # UNDISCLOSED in an enterprise's answers

    def active_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.lifted_on is None or day < self.lifted_on)

    def covers(self, family: str) -> bool:
        return not self.pollutant or self.pollutant == family


def check_blocks(
    blocks: Sequence[TradingBlock],
    seller: str,
    buyer: str,
    family: str,
    days: Sequence[date],
) -> None:
    """Rules §7.11: a transfer is refused while (on any of `days`: the business date and
    today) the buyer is under enforcement, or the seller's rights of `family` are leased or of
    unclear title."""
    for block in blocks:
        if not any(block.active_on(day) for day in days):
            continue
        if block.kind is BlockKind.ENFORCEMENT and block.party_code == buyer:
            raise BuyerUnderEnforcement(
                f"{buyer} is under enforcement (block {block.id}): it may not receive rights",
                field="buyer",
            )
        on_rights = block.kind is not BlockKind.ENFORCEMENT
        if on_rights and block.party_code == seller and block.covers(family):
            what = "leased" if block.kind is BlockKind.LEASING else "of unclear title"
            raise RightsBlocked(
                f"{seller}'s {family} rights are {what} (block {block.id}): they may not be "
                "transferred",
                field="seller",
            )


# -- policy ------------------------------------------------------------------------------------

DEFAULT_FLOORS_FEN = {"SO2": 500_000, "NOx": 600_000, "COD": 400_000, "NH3-N": 800_000}


@dataclass(frozen=True, slots=True)
class Policy:
    """Configurable rules of the registry (stored in the `policies` table, these are defaults)."""

    floor_fen_per_t: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_FLOORS_FEN))
    # What a buy-back may pay per t at most (public money); a pollutant without one is bought
    # back at no price. By default the benchmark the reserve sells at, so the reserve never
    # pays more for a tonne than its floor price for it.
    buy_back_ceiling_fen_per_t: dict[str, int] = field(
        default_factory=lambda: dict(DEFAULT_FLOORS_FEN)
    )
    fee_rate: Decimal = Decimal("0.015")  # of the trade value, split between buyer and seller
    check_city_eligibility: bool = True
    check_basin: bool = True
    holding_limit_units: dict[str, int] = field(default_factory=dict)  # per pollutant per vintage
    ccer_cap: Decimal = Decimal("0.05")  # of the carbon obligation
    penalty_multiplier: Decimal = Decimal(5)

    def __post_init__(self) -> None:
        if not Decimal(5) <= self.penalty_multiplier <= Decimal(10):
            raise InvalidField("the penalty multiplier is between 5 and 10", field="multiplier")


# -- money: every rounding is stated here ------------------------------------------------------


def trade_value_fen(price_fen: int, units: int, scale: int) -> int:
    """price (fen per t or tCO2) × quantity (units of `scale` places), half-up to the fen."""
    exact = Decimal(price_fen) * Decimal(units).scaleb(-scale)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fee_split_fen(value_fen: int, rate: Decimal) -> tuple[int, int]:
    """(buyer's fee, seller's fee): value × rate half-up to the fen, split in two halves.

    An odd fen goes to the buyer: the buyer pays ⌈fee/2⌉, the seller ⌊fee/2⌋.
    """
    fee = int((Decimal(value_fen) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return fee - fee // 2, fee // 2


def penalty_fen(shortfall_units: int, average_price_fen: int, multiplier: Decimal) -> int:
    """multiplier × the month's average price × shortfall (tCO2), half-up to the fen."""
    exact = multiplier * Decimal(average_price_fen) * shortfall_units
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def ccer_cap_units(obligation_units: int, cap: Decimal) -> int:
    """CCER that may count against an obligation: ⌊cap × obligation⌋ (rounded down)."""
    return int(Decimal(obligation_units) * cap)


# -- trades ------------------------------------------------------------------------------------


class TradeState(Enum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    SETTLED = "settled"
    DECLINED = "declined"
    RESCINDED = "rescinded"
    REFUSED = "refused"
    EXPIRED = "expired"


class TradeAction(Enum):
    ACCEPT = "accept"
    DECLINE = "decline"
    RESCIND = "rescind"
    RECORD = "record"
    REFUSE = "refuse"
    EXPIRE = "expire"


_P, _A = TradeState.PROPOSED, TradeState.ACCEPTED
TRANSITIONS: dict[TradeAction, tuple[frozenset[TradeState], TradeState]] = {
    TradeAction.ACCEPT: (frozenset({_P}), TradeState.ACCEPTED),
    TradeAction.DECLINE: (frozenset({_P}), TradeState.DECLINED),
    TradeAction.RESCIND: (frozenset({_P, _A}), TradeState.RESCINDED),
    TradeAction.RECORD: (frozenset({_A}), TradeState.SETTLED),
    TradeAction.REFUSE: (frozenset({_P, _A}), TradeState.REFUSED),
    TradeAction.EXPIRE: (frozenset({_P, _A}), TradeState.EXPIRED),
}


@dataclass(frozen=True, slots=True)
class Trade:
    """A transfer of rights (t/a in every vintage from first to last) for CNY at a price per t."""

    id: str
    seller: str
    buyer: str
    proposer: str
    family: str  # pollutant, or CEA / CCER
    units: int  # per vintage
    price_fen: int  # per t (or tCO2), for the whole range of vintages
    first_vintage: int | None
    last_vintage: int | None
    trade_date: date
    state: TradeState = TradeState.PROPOSED
    mode: str = "negotiated"
    zero_price_reason: str = ""
    expires_at: datetime | None = None

    @property
    def vintages(self) -> tuple[int | None, ...]:
        if self.first_vintage is None or self.last_vintage is None:
            return (None,)
        return tuple(range(self.first_vintage, self.last_vintage + 1))

    @property
    def counterparty(self) -> str:
        return self.buyer if self.proposer == self.seller else self.seller

    def instrument_codes(self) -> list[str]:
        return [instrument_code(self.family, vintage) for vintage in self.vintages]

    def next_state(self, action: TradeAction, actor: str | None = None) -> TradeState:
        """The state after `action`, or trade_state_invalid / trade_party_invalid."""
        allowed, target = TRANSITIONS[action]
        if self.state not in allowed:
            raise TradeStateInvalid(
                f"trade {self.id} is {self.state.value}: {action.value} is not allowed",
                field="state",
                trade=self.id,
            )
        expected = {
            TradeAction.ACCEPT: self.counterparty,
            TradeAction.DECLINE: self.counterparty,
            TradeAction.RESCIND: self.proposer,
        }.get(action)
        if expected is not None and actor is not None and actor != expected:
            raise TradePartyInvalid(
                f"only {expected} may {action.value} trade {self.id}", field="actor"
            )
        return target


def check_price(trade: Trade, policy: Policy) -> None:
    """Price is mandatory; zero needs a stated reason; otherwise at least the floor."""
    if trade.price_fen == 0:
        if not trade.zero_price_reason.strip():
            raise PriceZeroWithoutReason(
                "a zero price needs a stated reason", field="zero_price_reason"
            )
        return
    floor = policy.floor_fen_per_t.get(trade.family, 0)
    if trade.price_fen < floor:
        raise PriceBelowFloor(
            f"{trade.price_fen / 100:.2f} CNY/t is below the {trade.family} floor "
            f"of {floor / 100:.2f} CNY/t",
            field="price",
        )


def remaining_vintages(first: int, last: int, trade_year: int) -> tuple[int, int]:
    """Vintages a trade in t/a moves: from the trade's year to the end of the validity."""
    start = max(first, trade_year)
    if start > last:
        raise InvalidField(f"no vintage of {first}–{last} remains in {trade_year}", field="vintage")
    return start, last


# -- compliance --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Obligation:
    """What an enterprise must surrender for a period: its verified emissions (tCO2)."""

    id: str
    party_code: str
    period: int
    verified_units: int
    deadline: date
    closed: bool = False
    penalty_fen: int = 0
    deduction_units: int = 0


@dataclass(frozen=True, slots=True)
class ComplianceStatus:
    """Obligation, what was surrendered, the shortfall, and the shortfall after current holdings;
    once closed, how much of the shortfall later allocations have had deducted so far, and how
    much of its penalty the enterprise has paid."""

    obligation: Obligation
    surrendered_units: int
    ccer_units: int
    holdings_units: int
    deducted_units: int = 0
    penalty_paid_fen: int = 0

    @property
    def deduction_outstanding_units(self) -> int:
        return self.obligation.deduction_units - self.deducted_units

    @property
    def penalty_outstanding_fen(self) -> int:
        return self.obligation.penalty_fen - self.penalty_paid_fen

    @property
    def shortfall_units(self) -> int:
        return max(self.obligation.verified_units - self.surrendered_units, 0)

    @property
    def projected_shortfall_units(self) -> int:
        return max(self.shortfall_units - self.holdings_units, 0)


def check_vintage(code: str, compliance_year: int) -> None:
    """CEA of a vintage up to the compliance year may be surrendered: no borrowing (§7.9)."""
    _, _, vintage = code.partition("-")
    if is_digits(vintage) and int(vintage) > compliance_year:
        raise VintageAfterComplianceYear(
            f"{code} is of a vintage after the compliance year {compliance_year}: "
            "allowances may not be borrowed",
            field="instrument",
        )


def check_not_over(obligation: Obligation, surrendered_units: int, units: int) -> None:
    """A surrender may bring what was surrendered up to the obligation, not beyond (§7.9)."""
    owed = max(obligation.verified_units - surrendered_units, 0)
    if units > owed:
        raise SurrenderExceedsObligation(
            f"obligation {obligation.id} still owes {owed} tCO2, not {units}: "
            "a surplus stays banked in holdings",
            field="quantity",
        )


@dataclass(frozen=True, slots=True)
class Deduction:
    """Part of a closed obligation's shortfall deducted from one CEA allocation (rules §7.9):
    the allocation `allocation_id` of `allocated_units` for `year` issued `units` fewer."""

    id: str
    obligation_id: str
    party_code: str
    allocation_id: str
    year: int
    allocated_units: int
    units: int


def deductions_from(
    allocation_id: str, party: str, year: int, tranche: int, owing: Sequence[tuple[str, int]]
) -> list[Deduction]:
    """What an allocation of `tranche` units deducts: each shortfall still `owing` (obligation,
    units), oldest first, takes what is left of the tranche, at most what it still owes."""
    found, left = [], tranche
    for obligation_id, outstanding in owing:
        units = min(left, outstanding)
        if units <= 0:
            continue
        found.append(
            Deduction(
                f"{allocation_id}-{obligation_id}",
                obligation_id,
                party,
                allocation_id,
                year,
                tranche,
                units,
            )
        )
        left -= units
    return found


# -- reserve listings ------------------------------------------------------------------------


class ListingMode(Enum):
    """How an authority sells reserve rights (rules §4): at a fixed price, or by an electronic
    auction rising from a starting price of at least the benchmark (floor) price."""

    FIXED_PRICE = "fixed_price"
    AUCTION = "auction"


class ListingState(Enum):
    OPEN = "open"
    SOLD = "sold"  # its sale is a trade, accepted (the hold placed), to be recorded
    UNSOLD = "unsold"  # an auction closed with no bid that could be accepted
    WITHDRAWN = "withdrawn"  # a fixed-price listing closed before anyone accepted it


@dataclass(frozen=True, slots=True)
class Listing:
    """An authority's offer of `units` per vintage of its reserve's rights (first..last) at
    `price_fen` per t: the price (fixed) or the starting price (auction). Its sale is the trade
    of the same id, dated `listing_date`."""

    id: str
    seller: str
    family: str
    units: int
    price_fen: int
    mode: ListingMode
    listing_date: date
    first_vintage: int = 0
    last_vintage: int = 0
    state: ListingState = ListingState.OPEN


@dataclass(frozen=True, slots=True)
class Bid:
    """An enterprise's bid in an auction, per t; `outcome` is set when the auction closes:
    `won`, or the code of the rule that refused its acceptance. `client_id`: the bidder's id of
    the bid, unique within its listing (a retry under it is answered with this bid), or None
    for a bid sent without one."""

    listing_id: str
    bidder: str
    price_fen: int
    at: datetime
    seq: int = 0
    outcome: str = ""
    client_id: str | None = None


BID_ID_LENGTH_MAX = 40  # as every client's id of a record (the API's `RecordId`)


def check_bid_id(bid_id: str | None) -> str | None:
    """A bid's client id: None (a bid without one), or 1–40 storable characters."""
    if bid_id is None:
        return None
    if not bid_id.strip() or len(bid_id) > BID_ID_LENGTH_MAX:
        raise InvalidField(f"a bid id has 1–{BID_ID_LENGTH_MAX} characters", field="id")
    return check_text(bid_id, "id")


def check_bid(listing: Listing, price_fen: int, best: int | None) -> None:
    """An auction's bid is at least its starting price and above the best bid so far."""
    if listing.mode is not ListingMode.AUCTION:
        raise InvalidField(f"listing {listing.id} is at a fixed price: accept it", field="price")
    if price_fen < listing.price_fen or (best is not None and price_fen <= best):
        floor = listing.price_fen if best is None else best + 1
        raise BidTooLow(
            f"a bid on listing {listing.id} is at least {floor / 100:.2f} CNY/t", field="price"
        )


def ranked(bids: Sequence[Bid]) -> list[Bid]:
    """An auction's bids, best first: the highest price, then the earliest."""
    return sorted(bids, key=lambda bid: (-bid.price_fen, bid.seq))
