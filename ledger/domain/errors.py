"""Rejections: every rule the ledger enforces has one `LedgerError` subclass with a stable code.

The API maps `Kind` to an HTTP status in one table; the `code` and `field` travel unchanged into
the problem+json response so clients can branch on them.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class Kind(Enum):
    """What sort of rejection this is; decides the HTTP status in one place (api.errors)."""

    INVALID = "invalid"  # the request breaks a rule about its own shape or values
    NOT_FOUND = "not_found"  # the resource named in the path does not exist
    CONFLICT = "conflict"  # the request clashes with the ledger's current state
    UNPROCESSABLE = "unprocessable"  # well-formed, but the ledger's rules refuse it
    UNAUTHENTICATED = "unauthenticated"  # no valid token
    FORBIDDEN = "forbidden"  # the caller's role may not call this operation


class LedgerError(Exception):
    """A request the ledger refuses; it changed nothing."""

    code: str = "ledger_error"
    kind: Kind = Kind.UNPROCESSABLE
    title: str = "The ledger refused the request"

    def __init__(self, detail: str, *, field: str | None = None, **context: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.context = context


def rejection(code: str, kind: Kind, title: str) -> type[LedgerError]:
    return type(
        "".join(part.title() for part in code.split("_")) + "Error",
        (LedgerError,),
        {"code": code, "kind": kind, "title": title, "__doc__": title + "."},
    )


# Shape and values of the request (checked first, in the domain, before any I/O).
InvalidField = rejection("invalid_field", Kind.INVALID, "A field has an invalid value")
AmountNotPositive = rejection("amount_not_positive", Kind.INVALID, "Amounts must be positive")
AmountTooPrecise = rejection(
    "amount_too_precise", Kind.INVALID, "Amount is finer than the instrument's scale"
)
AmountTooLarge = rejection("amount_too_large", Kind.INVALID, "Amount exceeds the largest storable")
TooManyPostings = rejection("too_many_postings", Kind.INVALID, "Too many postings in one entry")
TooFewPostings = rejection("too_few_postings", Kind.INVALID, "An entry needs at least two postings")
EntryUnbalanced = rejection(
    "entry_unbalanced", Kind.INVALID, "Debits and credits differ for an instrument"
)
BatchTooLarge = rejection("batch_too_large", Kind.INVALID, "Too many items in one request")
DuplicateEntryInRequest = rejection(
    "duplicate_entry_id_in_request", Kind.INVALID, "An entry id appears twice in one request"
)
DuplicatePostingKey = rejection(
    "duplicate_pending_posting",
    Kind.INVALID,
    "A pending entry may name each account, instrument and side once",
)

# References to things that must exist.
UnknownInstrument = rejection("unknown_instrument", Kind.UNPROCESSABLE, "Unknown instrument")
UnknownAccount = rejection("unknown_account", Kind.UNPROCESSABLE, "Unknown account")
InstrumentNotFound = rejection("instrument_not_found", Kind.NOT_FOUND, "Instrument not found")
AccountNotFound = rejection("account_not_found", Kind.NOT_FOUND, "Account not found")
EntryNotFound = rejection("entry_not_found", Kind.NOT_FOUND, "Journal entry not found")

# Clashes with what already exists.
InstrumentExistsWithDifferentDefinition = rejection(
    "instrument_exists_with_different_definition",
    Kind.CONFLICT,
    "Instrument already registered with another definition",
)
AccountExistsWithDifferentDefinition = rejection(
    "account_exists_with_different_definition",
    Kind.CONFLICT,
    "Account already opened with another definition",
)
EntryExistsWithDifferentRequest = rejection(
    "entry_exists_with_different_request",
    Kind.CONFLICT,
    "This entry id was already used for a different request",
)
BatchPartiallyExists = rejection(
    "batch_partially_exists", Kind.CONFLICT, "Some entries of this batch already exist, others not"
)
EntryAlreadyReversed = rejection("entry_already_reversed", Kind.CONFLICT, "Entry already reversed")
EntryNotReversible = rejection(
    "entry_not_reversible", Kind.CONFLICT, "Only posted entries can be reversed"
)
NotPending = rejection("entry_not_pending", Kind.CONFLICT, "Entry is not a pending entry")
PendingAlreadyPosted = rejection(
    "pending_entry_already_posted", Kind.CONFLICT, "Pending entry was already posted"
)
PendingAlreadyVoided = rejection(
    "pending_entry_already_voided", Kind.CONFLICT, "Pending entry was already voided"
)
PendingExpired = rejection("pending_entry_expired", Kind.CONFLICT, "Pending entry has expired")
PostExceedsPending = rejection(
    "post_exceeds_pending", Kind.UNPROCESSABLE, "Posted amount exceeds the pending amount"
)

# The ledger's rules on accounts and balances.
AccountClosed = rejection("account_closed", Kind.UNPROCESSABLE, "Account is closed")
AccountFrozen = rejection("account_frozen", Kind.UNPROCESSABLE, "Account is frozen: no debits")
InstrumentMismatch = rejection(
    "instrument_mismatch", Kind.UNPROCESSABLE, "Account holds another instrument"
)
InsufficientBalance = rejection(
    "insufficient_balance", Kind.UNPROCESSABLE, "Account would go negative"
)
BalanceOverflow = rejection("balance_overflow", Kind.UNPROCESSABLE, "Balance would overflow")
AccountNotEmpty = rejection("account_not_empty", Kind.CONFLICT, "Account still holds value")
PageSizeOutOfRange = rejection("page_size_out_of_range", Kind.INVALID, "Page size out of range")
InvalidCursor = rejection("invalid_cursor", Kind.INVALID, "The page cursor is not valid")


class StorageConflict(Exception):
    """Infrastructure, not a rejection: a UNIQUE key was taken by a concurrent or earlier write.

    `what` names the key ('entry_id', 'reverses', 'pending'); the service decides what it means
    (an idempotent replay, an id reused for another request, an entry already resolved).
    """

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class RetryableConflict(Exception):
    """Infrastructure: a deadlock, serialization failure or busy database; safe to retry whole."""


# The registry's rules (parties, rights, trades, compliance).
PartyNotFound = rejection("party_not_found", Kind.NOT_FOUND, "Party not found")
UnknownParty = rejection("unknown_party", Kind.UNPROCESSABLE, "Unknown party")
RecordNotFound = rejection("record_not_found", Kind.NOT_FOUND, "Registry record not found")
RecordExists = rejection(
    "record_exists_with_different_definition",
    Kind.CONFLICT,
    "A registry record with this id already exists with another definition",
)
RightsPledged = rejection(
    "rights_pledged",
    Kind.UNPROCESSABLE,
    "The rights are pledged and may not be sold or surrendered",
)
PriceBelowFloor = rejection("price_below_floor", Kind.UNPROCESSABLE, "Price below the floor price")
PriceZeroWithoutReason = rejection(
    "price_zero_without_reason", Kind.UNPROCESSABLE, "A zero price needs a stated reason"
)
CityMayNotReceive = rejection(
    "city_may_not_receive", Kind.UNPROCESSABLE, "The buyer's city may not receive air rights"
)
BasinMismatch = rejection(
    "basin_mismatch", Kind.UNPROCESSABLE, "Water rights trade only within one river basin"
)
HoldingLimitExceeded = rejection(
    "holding_limit_exceeded", Kind.UNPROCESSABLE, "The buyer would exceed its holding limit"
)
CcerCapExceeded = rejection(
    "ccer_cap_exceeded", Kind.UNPROCESSABLE, "CCER may cover at most 5% of the obligation"
)
TradeStateInvalid = rejection(
    "trade_state_invalid", Kind.CONFLICT, "The trade's state does not allow this action"
)
TradePartyInvalid = rejection(
    "trade_party_invalid", Kind.UNPROCESSABLE, "This party may not take this action on the trade"
)
VintageExpired = rejection("vintage_expired", Kind.UNPROCESSABLE, "The vintage has expired")
PledgeAlreadyReleased = rejection(
    "pledge_already_released", Kind.CONFLICT, "The pledge was already released"
)
ObligationClosed = rejection(
    "obligation_closed", Kind.CONFLICT, "The obligation's deadline has been closed"
)
