"""Rejections: every rule the ledger enforces has one `LedgerError` subclass with a stable code.

Each error is declared one way: its code, kind and title in the class statement
(`class PeriodClosed(LedgerError, code="period_closed", kind=..., title=...)`) and, in its
docstring, when it is raised. Codes are unique: a second error with a used code fails at import.

The API maps `Kind` to an HTTP status in one table; the `code` and `field` travel unchanged into
the problem+json response so clients can branch on them. `all_errors()` lists every declared
error, for the generated error reference.
"""

from __future__ import annotations

import importlib
import pkgutil
from enum import Enum
from typing import Any, ClassVar


class Kind(Enum):
    """What sort of rejection this is; decides the HTTP status in one place (api.errors)."""

    INVALID = "invalid"  # the request breaks a rule about its own shape or values
    NOT_FOUND = "not_found"  # the resource named in the path does not exist
    CONFLICT = "conflict"  # the request clashes with the ledger's current state
    UNPROCESSABLE = "unprocessable"  # well-formed, but the ledger's rules refuse it
    UNAUTHENTICATED = "unauthenticated"  # no valid token
    FORBIDDEN = "forbidden"  # the caller's role may not call this operation
    TOO_MANY = "too_many"  # too many requests (or failed authentications): retry later


class LedgerError(Exception):
    """A request the ledger refuses; it changed nothing.

    Abstract: every concrete error is a subclass that states its code, kind and title.
    """

    code: ClassVar[str]
    kind: ClassVar[Kind]
    title: ClassVar[str]
    _declared: ClassVar[dict[str, type[LedgerError]]] = {}  # by code
    audited: bool = False  # set once a use case has written the rejection's audit line

    def __init_subclass__(cls, *, code: str, kind: Kind, title: str, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if not code or not title.strip() or not (cls.__doc__ or "").strip():
            raise TypeError(f"{cls.__qualname__} needs a code, a title and a docstring")
        taken = LedgerError._declared.get(code)
        # A module imported again (a reload) declares the same error anew: not a second use.
        if taken is not None and _where(taken) != _where(cls):
            raise TypeError(f"{_where(cls)}: error code {code!r} is taken by {_where(taken)}")
        cls.code, cls.kind, cls.title = code, kind, title
        LedgerError._declared[code] = cls

    def __init__(self, detail: str, *, field: str | None = None, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.context = context


def _where(error: type[LedgerError]) -> str:
    return f"{error.__module__}.{error.__qualname__}"


def all_errors() -> list[type[LedgerError]]:
    """Every error the ledger declares, sorted by code (for the generated error reference).

    Errors are declared in the domain; importing each of its modules first means none is missed.
    """
    domain = importlib.import_module("ledger.domain")
    for module in pkgutil.iter_modules(domain.__path__, "ledger.domain."):
        importlib.import_module(module.name)
    return [LedgerError._declared[code] for code in sorted(LedgerError._declared)]


# Shape and values of the request (checked first, in the domain, before any I/O).


class InvalidField(
    LedgerError, code="invalid_field", kind=Kind.INVALID, title="A field has an invalid value"
):
    """A value breaks a rule of its own field (format, range, choice); `field` names it."""


class AmountNotPositive(
    LedgerError, code="amount_not_positive", kind=Kind.INVALID, title="Amounts must be positive"
):
    """An amount or quantity is zero or negative where only a positive one makes sense."""


class AmountTooPrecise(
    LedgerError,
    code="amount_too_precise",
    kind=Kind.INVALID,
    title="Amount is finer than the instrument's scale",
):
    """An amount has more decimal places than the instrument's smallest unit (never rounded)."""


class AmountTooLarge(
    LedgerError,
    code="amount_too_large",
    kind=Kind.INVALID,
    title="Amount exceeds the largest storable",
):
    """An amount, or an entry's total per instrument, exceeds the largest storable number of
    units."""


class TooManyPostings(
    LedgerError, code="too_many_postings", kind=Kind.INVALID, title="Too many postings in one entry"
):
    """An entry has more postings than the per-entry limit."""


class TooFewPostings(
    LedgerError,
    code="too_few_postings",
    kind=Kind.INVALID,
    title="An entry needs at least two postings",
):
    """An entry, or a partial post of a pending entry, names fewer than two postings."""


class EntryUnbalanced(
    LedgerError,
    code="entry_unbalanced",
    kind=Kind.INVALID,
    title="Debits and credits differ for an instrument",
):
    """An entry's debits and credits of one instrument differ (entries balance per instrument)."""


class BatchTooLarge(
    LedgerError, code="batch_too_large", kind=Kind.INVALID, title="Too many items in one request"
):
    """A batch or bulk request carries more entries than its limit."""


class DuplicateEntryInRequest(
    LedgerError,
    code="duplicate_entry_id_in_request",
    kind=Kind.INVALID,
    title="An entry id appears twice in one request",
):
    """Two entries of one batch or bulk request share an entry id."""


class DuplicatePostingKey(
    LedgerError,
    code="duplicate_pending_posting",
    kind=Kind.INVALID,
    title="A pending entry may name each account, instrument and side once",
):
    """A pending entry (or its partial post) names one account, instrument and side twice, which
    would make a partial post ambiguous."""


# References to things that must exist.


class UnknownInstrument(
    LedgerError, code="unknown_instrument", kind=Kind.UNPROCESSABLE, title="Unknown instrument"
):
    """The request body names an instrument the ledger does not have (see `instrument_not_found`
    for one named in the path)."""


class UnknownAccount(
    LedgerError, code="unknown_account", kind=Kind.UNPROCESSABLE, title="Unknown account"
):
    """The request body names an account the ledger does not have (see `account_not_found` for
    one named in the path)."""


class InstrumentNotFound(
    LedgerError, code="instrument_not_found", kind=Kind.NOT_FOUND, title="Instrument not found"
):
    """The instrument named in the path does not exist."""


class AccountNotFound(
    LedgerError, code="account_not_found", kind=Kind.NOT_FOUND, title="Account not found"
):
    """The account named in the path does not exist, or is not one the caller may see."""


class EntryNotFound(
    LedgerError, code="entry_not_found", kind=Kind.NOT_FOUND, title="Journal entry not found"
):
    """The journal entry named (to read, resolve, reverse or correct) does not exist."""


# Clashes with what already exists.


class InstrumentExistsWithDifferentDefinition(
    LedgerError,
    code="instrument_exists_with_different_definition",
    kind=Kind.CONFLICT,
    title="Instrument already registered with another definition",
):
    """An instrument is registered again under its code with another definition (the same one
    is an idempotent replay)."""


class AccountExistsWithDifferentDefinition(
    LedgerError,
    code="account_exists_with_different_definition",
    kind=Kind.CONFLICT,
    title="Account already opened with another definition",
):
    """An account is opened again under its code with another definition (the same one is an
    idempotent replay)."""


class EntryExistsWithDifferentRequest(
    LedgerError,
    code="entry_exists_with_different_request",
    kind=Kind.CONFLICT,
    title="This entry id was already used for a different request",
):
    """An entry id is reused with a request that differs from the one that wrote it."""


class BatchPartiallyExists(
    LedgerError,
    code="batch_partially_exists",
    kind=Kind.CONFLICT,
    title="Some entries of this batch already exist, others not",
):
    """A batch is sent again while only some of its entry ids exist: neither a replay nor new."""


class EntryAlreadyReversed(
    LedgerError, code="entry_already_reversed", kind=Kind.CONFLICT, title="Entry already reversed"
):
    """A reversal names an entry that another reversal already reversed."""


class EntryNotReversible(
    LedgerError,
    code="entry_not_reversible",
    kind=Kind.CONFLICT,
    title="Only posted entries can be reversed",
):
    """A reversal names an entry that is pending, voided or expired rather than posted."""


class NotPending(
    LedgerError, code="entry_not_pending", kind=Kind.CONFLICT, title="Entry is not a pending entry"
):
    """A post or void names an entry that was never a pending entry."""


class PendingAlreadyPosted(
    LedgerError,
    code="pending_entry_already_posted",
    kind=Kind.CONFLICT,
    title="Pending entry was already posted",
):
    """A post or void names a pending entry that has been posted already."""


class PendingAlreadyVoided(
    LedgerError,
    code="pending_entry_already_voided",
    kind=Kind.CONFLICT,
    title="Pending entry was already voided",
):
    """A post or void names a pending entry that has been voided already."""


class PendingExpired(
    LedgerError, code="pending_entry_expired", kind=Kind.CONFLICT, title="Pending entry has expired"
):
    """A post or void names a pending entry past its expiry (expired or about to be)."""


class PostExceedsPending(
    LedgerError,
    code="post_exceeds_pending",
    kind=Kind.UNPROCESSABLE,
    title="Posted amount exceeds the pending amount",
):
    """A partial post asks for more of a posting than the pending entry holds."""


# The ledger's rules on accounts and balances.


class AccountClosed(
    LedgerError, code="account_closed", kind=Kind.UNPROCESSABLE, title="Account is closed"
):
    """A posting names a closed account."""


class AccountFrozen(
    LedgerError,
    code="account_frozen",
    kind=Kind.UNPROCESSABLE,
    title="Account is frozen: no debits",
):
    """A posting debits a frozen account (a frozen account still accepts credits)."""


class InstrumentMismatch(
    LedgerError,
    code="instrument_mismatch",
    kind=Kind.UNPROCESSABLE,
    title="Account holds another instrument",
):
    """A posting moves an instrument other than the only one its account may hold."""


class InsufficientBalance(
    LedgerError,
    code="insufficient_balance",
    kind=Kind.UNPROCESSABLE,
    title="Account would go negative",
):
    """A non-negative account's available balance (posted less pending debits) would go below
    zero."""


class BalanceOverflow(
    LedgerError, code="balance_overflow", kind=Kind.UNPROCESSABLE, title="Balance would overflow"
):
    """A balance counter would exceed the largest storable number of units."""


class AccountNotEmpty(
    LedgerError, code="account_not_empty", kind=Kind.CONFLICT, title="Account still holds value"
):
    """An account to be closed still has a posted or pending balance."""


class PageSizeOutOfRange(
    LedgerError, code="page_size_out_of_range", kind=Kind.INVALID, title="Page size out of range"
):
    """A listing's `limit` is below 1 or above the largest page size."""


class InvalidCursor(
    LedgerError, code="invalid_cursor", kind=Kind.INVALID, title="The page cursor is not valid"
):
    """A page cursor was not issued by the ledger, or was issued by another listing."""


class StorageConflict(Exception):
    """Infrastructure, not a rejection: a UNIQUE key was taken by a concurrent or earlier write.

    `what` names the key ('entry_id', 'reverses', 'pending', or 'record' for any other unique
    key); the service decides what it means (an idempotent replay, an id reused for another
    request, an entry already resolved). A unit of work that meets one runs once more before
    passing it on: its use case then sees the winner's row.
    """

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class RetryableConflict(Exception):
    """Infrastructure: a deadlock, serialization failure or busy database; safe to retry whole."""


# The registry's rules (parties, rights, trades, compliance).


class PartyNotFound(
    LedgerError, code="party_not_found", kind=Kind.NOT_FOUND, title="Party not found"
):
    """The party named in the path or query does not exist, or is not one the caller may see."""


class UnknownParty(
    LedgerError, code="unknown_party", kind=Kind.UNPROCESSABLE, title="Unknown party"
):
    """The request body names a party the registry does not have."""


class RecordNotFound(
    LedgerError, code="record_not_found", kind=Kind.NOT_FOUND, title="Registry record not found"
):
    """The trade, pledge or obligation named does not exist, or is not one the caller may see."""


class RecordExists(
    LedgerError,
    code="record_exists_with_different_definition",
    kind=Kind.CONFLICT,
    title="A registry record with this id already exists with another definition",
):
    """A registry record (party, principal, entitlement, pledge, trade, obligation, incentive,
    reduction, ...) is created under an id already used for another definition."""


class RightsPledged(
    LedgerError,
    code="rights_pledged",
    kind=Kind.UNPROCESSABLE,
    title="The rights are pledged and may not be sold or surrendered",
):
    """A party's unpledged rights fall short of a sale or surrender that its pledged rights
    would have covered."""


class PriceBelowFloor(
    LedgerError,
    code="price_below_floor",
    kind=Kind.UNPROCESSABLE,
    title="Price below the floor price",
):
    """A trade or reserve sale is priced below its pollutant's floor price."""


class PriceAboveCeiling(
    LedgerError,
    code="price_above_ceiling",
    kind=Kind.UNPROCESSABLE,
    title="Buy-back price above the ceiling",
):
    """A buy-back is priced above its pollutant's buy-back ceiling (the policy's; by default
    the benchmark price the reserve sells at): it pays public money."""


class RightsNotPaidFor(
    LedgerError,
    code="rights_not_paid_for",
    kind=Kind.UNPROCESSABLE,
    title="A buy-back pays only for rights the enterprise paid for",
):
    """A buy-back naming no entitlement takes more, in a vintage, than the enterprise bought
    (in trades at a price or reserve sales) and still shows, net of sales and earlier such
    buy-backs: free rights are reclaimed, not bought back (rules §4, §7.11)."""


class PriceZeroWithoutReason(
    LedgerError,
    code="price_zero_without_reason",
    kind=Kind.UNPROCESSABLE,
    title="A zero price needs a stated reason",
):
    """A trade has a zero price and no stated reason for it."""


class CityMayNotReceive(
    LedgerError,
    code="city_may_not_receive",
    kind=Kind.UNPROCESSABLE,
    title="The buyer's city may not receive air rights",
):
    """An air-pollutant trade's or reserve sale's buyer is in a city that may not receive
    air-pollutant rights in that year (it did not meet the prior year's air-quality standard)."""


class CityUnknown(
    LedgerError,
    code="city_unknown",
    kind=Kind.UNPROCESSABLE,
    title="The buyer's city, or its eligibility that year, is unknown",
):
    """An air-pollutant trade's or reserve sale's buyer is in no city the registry knows, or
    no decision says whether its city may receive air-pollutant rights that year."""


class BuyerUnderEnforcement(
    LedgerError,
    code="buyer_under_enforcement",
    kind=Kind.UNPROCESSABLE,
    title="The buyer is under enforcement",
):
    """A regulator's enforcement block on the buyer is active: it may not receive rights by a
    trade or a reserve sale."""


class RightsBlocked(
    LedgerError,
    code="rights_blocked",
    kind=Kind.UNPROCESSABLE,
    title="The seller's rights are leased or of unclear title",
):
    """A regulator's leasing or unclear-title block on the seller's rights of the pollutant is
    active: they may not be transferred."""


class BlockLifted(
    LedgerError,
    code="block_lifted",
    kind=Kind.CONFLICT,
    title="The block was lifted already",
):
    """A trading block was lifted already, on another day than the one asked for."""


class BlockOfWiderAuthority(
    LedgerError,
    code="block_set_by_wider_authority",
    kind=Kind.FORBIDDEN,
    title="The block was set by an authority whose scope yours does not cover",
):
    """An authority lifts a trading block that an authority of wider scope set: a city's
    authority, a block of the province's (or one set before the ledger recorded who set blocks,
    which counts as the province's)."""


class AcquisitionMismatch(
    LedgerError,
    code="acquisition_mismatch",
    kind=Kind.UNPROCESSABLE,
    title="Free surplus is reclaimed, paid surplus bought back",
):
    """A reclaim names paid rights, or a buy-back free ones (rules §4, §7.11)."""


class SurplusExceeded(
    LedgerError,
    code="surplus_exceeded",
    kind=Kind.UNPROCESSABLE,
    title="More than the entitlement's rights would be taken back",
):
    """Reclaims and buy-backs of an entitlement would take back more, in a vintage, than the
    entitlement confirmed."""


class BidTooLow(
    LedgerError,
    code="bid_too_low",
    kind=Kind.UNPROCESSABLE,
    title="The bid is below the starting price or the best bid",
):
    """An auction's bid is below its starting price, or not above the best bid so far."""


class ListingClosed(
    LedgerError,
    code="listing_closed",
    kind=Kind.CONFLICT,
    title="The listing is closed",
):
    """A listing was sold, withdrawn or closed unsold: it takes no acceptance or bid."""


class BasinMismatch(
    LedgerError,
    code="basin_mismatch",
    kind=Kind.UNPROCESSABLE,
    title="Water rights trade only within one river basin",
):
    """A water-pollutant trade's seller and buyer are not (known to be) in one river basin."""


class HoldingLimitExceeded(
    LedgerError,
    code="holding_limit_exceeded",
    kind=Kind.UNPROCESSABLE,
    title="The buyer would exceed its holding limit",
):
    """Settling a trade would take the buyer's holdings of a vintage above the policy's limit."""


class CcerCapExceeded(
    LedgerError,
    code="ccer_cap_exceeded",
    kind=Kind.UNPROCESSABLE,
    title="CCER may cover at most 5% of the obligation",
):
    """A surrender of CCER would take the CCER surrendered for an obligation above the cap."""


class TradeStateInvalid(
    LedgerError,
    code="trade_state_invalid",
    kind=Kind.CONFLICT,
    title="The trade's state does not allow this action",
):
    """A trade action (accept, decline, rescind, record, refuse, expire) is not allowed in the
    trade's current state, or an expiry is asked before the trade's deadline."""


class TradePartyInvalid(
    LedgerError,
    code="trade_party_invalid",
    kind=Kind.UNPROCESSABLE,
    title="This party may not take this action on the trade",
):
    """A party other than the counterparty accepts or declines a trade, or other than the
    proposer rescinds it."""


class VintageExpired(
    LedgerError, code="vintage_expired", kind=Kind.UNPROCESSABLE, title="The vintage has expired"
):
    """An entitlement, pledge, reserve operation, trade or surrender names a vintage that has
    expired."""


class PledgeAlreadyReleased(
    LedgerError,
    code="pledge_already_released",
    kind=Kind.CONFLICT,
    title="The pledge was already released",
):
    """A pledge is released a second time."""


class ObligationClosed(
    LedgerError,
    code="obligation_closed",
    kind=Kind.CONFLICT,
    title="The obligation's deadline has been closed",
):
    """A surrender or deadline close names an obligation whose deadline was already closed."""


class VintageAfterComplianceYear(
    LedgerError,
    code="vintage_after_compliance_year",
    kind=Kind.UNPROCESSABLE,
    title="Allowances of a later vintage cannot be surrendered (no borrowing)",
):
    """A surrender names CEA of a vintage after the obligation's compliance year (rules §7.9)."""


class SurrenderExceedsObligation(
    LedgerError,
    code="surrender_exceeds_obligation",
    kind=Kind.UNPROCESSABLE,
    title="A surrender may not exceed what is still owed",
):
    """A surrender would take what was surrendered for an obligation above its verified
    emissions; the surplus stays in holdings, banked (rules §7.9)."""


class DeadlineNotPassed(
    LedgerError,
    code="deadline_not_passed",
    kind=Kind.CONFLICT,
    title="An obligation can be closed only after its deadline",
):
    """A close names an obligation whose deadline (a Beijing calendar day) is today or later."""
