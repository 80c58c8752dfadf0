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


def _error(code: str, kind: Kind, title: str) -> type[LedgerError]:
    return type(
        "".join(part.title() for part in code.split("_")) + "Error",
        (LedgerError,),
        {"code": code, "kind": kind, "title": title, "__doc__": title + "."},
    )


# Shape and values of the request (checked first, in the domain, before any I/O).
InvalidField = _error("invalid_field", Kind.INVALID, "A field has an invalid value")
AmountNotPositive = _error("amount_not_positive", Kind.INVALID, "Amounts must be positive")
AmountTooPrecise = _error(
    "amount_too_precise", Kind.INVALID, "Amount is finer than the instrument's scale"
)
AmountTooLarge = _error("amount_too_large", Kind.INVALID, "Amount exceeds the largest storable")
TooManyPostings = _error("too_many_postings", Kind.INVALID, "Too many postings in one entry")
TooFewPostings = _error("too_few_postings", Kind.INVALID, "An entry needs at least two postings")
EntryUnbalanced = _error(
    "entry_unbalanced", Kind.INVALID, "Debits and credits differ for an instrument"
)
BatchTooLarge = _error("batch_too_large", Kind.INVALID, "Too many items in one request")
DuplicateEntryInRequest = _error(
    "duplicate_entry_id_in_request", Kind.INVALID, "An entry id appears twice in one request"
)
DuplicatePostingKey = _error(
    "duplicate_pending_posting",
    Kind.INVALID,
    "A pending entry may name each account, instrument and side once",
)

# References to things that must exist.
UnknownInstrument = _error("unknown_instrument", Kind.UNPROCESSABLE, "Unknown instrument")
UnknownAccount = _error("unknown_account", Kind.UNPROCESSABLE, "Unknown account")
InstrumentNotFound = _error("instrument_not_found", Kind.NOT_FOUND, "Instrument not found")
AccountNotFound = _error("account_not_found", Kind.NOT_FOUND, "Account not found")
EntryNotFound = _error("entry_not_found", Kind.NOT_FOUND, "Journal entry not found")

# Clashes with what already exists.
InstrumentExistsWithDifferentDefinition = _error(
    "instrument_exists_with_different_definition",
    Kind.CONFLICT,
    "Instrument already registered with another definition",
)
AccountExistsWithDifferentDefinition = _error(
    "account_exists_with_different_definition",
    Kind.CONFLICT,
    "Account already opened with another definition",
)
EntryExistsWithDifferentRequest = _error(
    "entry_exists_with_different_request",
    Kind.CONFLICT,
    "This entry id was already used for a different request",
)
BatchPartiallyExists = _error(
    "batch_partially_exists", Kind.CONFLICT, "Some entries of this batch already exist, others not"
)
EntryAlreadyReversed = _error("entry_already_reversed", Kind.CONFLICT, "Entry already reversed")
EntryNotReversible = _error(
    "entry_not_reversible", Kind.CONFLICT, "Only posted entries can be reversed"
)
NotPending = _error("entry_not_pending", Kind.CONFLICT, "Entry is not a pending entry")
PendingAlreadyPosted = _error(
    "pending_entry_already_posted", Kind.CONFLICT, "Pending entry was already posted"
)
PendingAlreadyVoided = _error(
    "pending_entry_already_voided", Kind.CONFLICT, "Pending entry was already voided"
)
PendingExpired = _error("pending_entry_expired", Kind.CONFLICT, "Pending entry has expired")
PostExceedsPending = _error(
    "post_exceeds_pending", Kind.UNPROCESSABLE, "Posted amount exceeds the pending amount"
)

# The ledger's rules on accounts and balances.
AccountClosed = _error("account_closed", Kind.UNPROCESSABLE, "Account is closed")
AccountFrozen = _error("account_frozen", Kind.UNPROCESSABLE, "Account is frozen: no debits")
InstrumentMismatch = _error(
    "instrument_mismatch", Kind.UNPROCESSABLE, "Account holds another instrument"
)
InsufficientBalance = _error(
    "insufficient_balance", Kind.UNPROCESSABLE, "Account would go negative"
)
BalanceOverflow = _error("balance_overflow", Kind.UNPROCESSABLE, "Balance would overflow")
AccountNotEmpty = _error("account_not_empty", Kind.CONFLICT, "Account still holds value")
PageSizeOutOfRange = _error("page_size_out_of_range", Kind.INVALID, "Page size out of range")
InvalidCursor = _error("invalid_cursor", Kind.INVALID, "The page cursor is not valid")


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
PartyNotFound = _error("party_not_found", Kind.NOT_FOUND, "Party not found")
UnknownParty = _error("unknown_party", Kind.UNPROCESSABLE, "Unknown party")
RecordNotFound = _error("record_not_found", Kind.NOT_FOUND, "Registry record not found")
RecordExists = _error(
    "record_exists_with_different_definition",
    Kind.CONFLICT,
    "A registry record with this id already exists with another definition",
)
RightsPledged = _error(
    "rights_pledged",
    Kind.UNPROCESSABLE,
    "The rights are pledged and may not be sold or surrendered",
)
PriceBelowFloor = _error("price_below_floor", Kind.UNPROCESSABLE, "Price below the floor price")
PriceZeroWithoutReason = _error(
    "price_zero_without_reason", Kind.UNPROCESSABLE, "A zero price needs a stated reason"
)
CityMayNotReceive = _error(
    "city_may_not_receive", Kind.UNPROCESSABLE, "The buyer's city may not receive air rights"
)
BasinMismatch = _error(
    "basin_mismatch", Kind.UNPROCESSABLE, "Water rights trade only within one river basin"
)
HoldingLimitExceeded = _error(
    "holding_limit_exceeded", Kind.UNPROCESSABLE, "The buyer would exceed its holding limit"
)
CcerCapExceeded = _error(
    "ccer_cap_exceeded", Kind.UNPROCESSABLE, "CCER may cover at most 5% of the obligation"
)
TradeStateInvalid = _error(
    "trade_state_invalid", Kind.CONFLICT, "The trade's state does not allow this action"
)
TradePartyInvalid = _error(
    "trade_party_invalid", Kind.UNPROCESSABLE, "This party may not take this action on the trade"
)
VintageExpired = _error("vintage_expired", Kind.UNPROCESSABLE, "The vintage has expired")
PledgeAlreadyReleased = _error(
    "pledge_already_released", Kind.CONFLICT, "The pledge was already released"
)
ObligationClosed = _error(
    "obligation_closed", Kind.CONFLICT, "The obligation's deadline has been closed"
)
