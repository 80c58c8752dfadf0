"""Journal entries and postings: drafts as clients ask for them, records as the ledger keeps them.

A draft is validated here before any I/O (fixed order, one code per rule): posting count, then
balance per instrument, then pending-specific shape. Booking a draft against locked balances
(`book`) applies the account rules and limits and yields the running balance of every posting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from ledger.domain.accounts import Account, Balance, Side
from ledger.domain.amounts import AmountText, Instrument, parse_decimal, raw_units
from ledger.domain.bounds import check_instant
from ledger.domain.errors import (
    AmountTooLarge,
    DuplicatePostingKey,
    EntryUnbalanced,
    InvalidField,
    LedgerError,
    PostExceedsPending,
    TooFewPostings,
    TooManyPostings,
    UnknownInstrument,
)
from ledger.domain.limits import POSTINGS_PER_ENTRY_MAX, UNITS_MAX

BalanceKey = tuple[int, str]  # (account id, instrument code)


class EntryStatus(Enum):
    """What a journal record is, fixed when it is written (records are never updated).

    A pending entry's *state* (pending, posted, voided, expired) is derived from the record
    that resolves it, which points back through `pending_entry_id`.
    """

    POSTED = "posted"
    PENDING = "pending"
    VOIDED = "voided"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Reference:
    """The business record behind an entry: a permit, a trade, a verified report, a tax return."""

    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class PostingDraft:
    """One requested line: positive units of an instrument on one side of an account."""

    account_code: str
    instrument_code: str
    side: Side
    units: int

    @property
    def key(self) -> tuple[str, str, Side]:
        return (self.account_code, self.instrument_code, self.side)


@dataclass(frozen=True, slots=True)
class PostingRequest:
    """One line as it arrives: an exact decimal amount in the instrument's unit.

    The amount may still be the wire's decimal string; it is parsed with the line's field path
    so that a bad amount in one bulk item rejects that item only.
    """

    account_code: str
    instrument_code: str
    side: Side
    amount: Decimal | str


def to_posting_drafts(
    requests: Sequence[PostingRequest], instruments: Mapping[str, Instrument]
) -> tuple[PostingDraft, ...]:
    """Decimal amounts to integer units, line by line: unknown instrument, then the amount rules."""
    drafts = []
    for index, line in enumerate(requests):
        instrument = instruments.get(line.instrument_code)
        if instrument is None:
            raise UnknownInstrument(
                f"no instrument {line.instrument_code!r}", field=f"postings[{index}].instrument"
            )
        field = f"postings[{index}].amount"
        amount = line.amount
        if isinstance(amount, str):
            amount = parse_decimal(amount, field=field)
        units = instrument.to_units(amount, field=field)
        drafts.append(PostingDraft(line.account_code, line.instrument_code, line.side, units))
    return tuple(drafts)


def check_posting_count(count: int) -> None:
    """2 ≤ postings ≤ POSTINGS_PER_ENTRY_MAX (checked before any amount is converted)."""
    if count < 2:
        raise TooFewPostings(f"an entry needs at least 2 postings, got {count}", field="postings")
    if count > POSTINGS_PER_ENTRY_MAX:
        raise TooManyPostings(
            f"at most {POSTINGS_PER_ENTRY_MAX} postings per entry, got {count}", field="postings"
        )


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """A journal entry as a client asks for it; `entry_id` is the idempotency key."""

    entry_id: str
    entry_type: str
    postings: tuple[PostingDraft, ...]
    effective_at: datetime | None = None
    memo: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[Reference, ...] = ()
    pending: bool = False
    expires_at: datetime | None = None

    def validate(self, text: AmountText = raw_units) -> None:
        """Shape rules that need no database, in their documented order."""
        check_posting_count(len(self.postings))
        check_balanced(self.postings, text)
        if self.effective_at is not None:
            check_instant(self.effective_at, "effective_at")
        if self.expires_at is not None:
            check_instant(self.expires_at, "expires_at")
        if self.pending:
            check_unique_keys(self.postings)
        elif self.expires_at is not None:
            raise InvalidField("only pending entries can expire", field="expires_at")

    def request_hash(self) -> str:
        """SHA-256 of the canonical request: same id + same hash means a retry."""
        canonical = {
            "entry_id": self.entry_id,
            "entry_type": self.entry_type,
            "postings": [
                [p.account_code, p.instrument_code, p.side.value, p.units] for p in self.postings
            ],
            "effective_at": instant_text(self.effective_at),
            "memo": self.memo,
            "metadata": self.metadata,
            "references": [[r.kind, r.id] for r in self.references],
            "pending": self.pending,
            "expires_at": instant_text(self.expires_at),
        }
        return canonical_hash(canonical)


# Built once: json.dumps with options makes an encoder per call, half the cost of a hash.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_hash(value: Any) -> str:
    """SHA-256 of a JSON value with sorted keys and no insignificant whitespace."""
    return hashlib.sha256(_CANONICAL_JSON.encode(value).encode()).hexdigest()


def instant_text(moment: datetime | None) -> str | None:
    """An instant in canonical form (UTC), so one instant always hashes the same."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def check_balanced(postings: Iterable[PostingDraft], text: AmountText = raw_units) -> None:
    """Σ debits = Σ credits for every instrument of the entry (never across instruments)."""
    # Keyed by instrument alone: an Enum in a key hashes in Python, once per look-up.
    debit_totals: dict[str, int] = {}
    credit_totals: dict[str, int] = {}
    for posting in postings:
        totals = debit_totals if posting.side is Side.DEBIT else credit_totals
        totals[posting.instrument_code] = totals.get(posting.instrument_code, 0) + posting.units
    for instrument_code in sorted(debit_totals.keys() | credit_totals.keys()):
        debits = debit_totals.get(instrument_code, 0)
        credits = credit_totals.get(instrument_code, 0)
        if max(debits, credits) > UNITS_MAX:
            raise AmountTooLarge(
                f"{instrument_code}: the entry moves more than the largest storable amount, "
                f"{text(instrument_code, UNITS_MAX)}",
                field="postings",
            )
        if debits != credits:
            excess, side = (
                (debits - credits, "debits") if debits > credits else (credits - debits, "credits")
            )
            raise EntryUnbalanced(
                f"{instrument_code}: {side} exceed the other side by "
                f"{text(instrument_code, excess)}",
                field="postings",
                instrument=instrument_code,
            )


def check_unique_keys(postings: Iterable[PostingDraft]) -> None:
    """A pending entry names each (account, instrument, side) once: no ambiguous partial post."""
    seen: set[tuple[str, str, Side]] = set()
    for posting in postings:
        if posting.key in seen:
            raise DuplicatePostingKey(
                f"{posting.account_code} {posting.instrument_code} {posting.side.value} "
                "appears twice",
                field="postings",
            )
        seen.add(posting.key)


@dataclass(frozen=True, slots=True)
class BookedPosting:
    """A posting ready to store: resolved account id and, when posted, the balance after it."""

    account_id: int
    account_code: str
    instrument_code: str
    side: Side
    units: int
    debits_after: int | None
    credits_after: int | None


@dataclass(frozen=True, slots=True)
class PostingRecord:
    """A stored posting as read back."""

    account_code: str
    instrument_code: str
    side: Side
    units: int


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """A stored journal record with its postings; never changes once written."""

    seq: int
    entry_id: str
    request_hash: str
    entry_type: str
    status: EntryStatus
    effective_at: datetime
    recorded_at: datetime
    memo: str
    metadata: Mapping[str, Any]
    references: tuple[Reference, ...]
    postings: tuple[PostingRecord, ...]
    reverses_entry_id: str | None = None
    pending_entry_id: str | None = None
    expires_at: datetime | None = None


def book(
    postings: Sequence[PostingDraft],
    accounts: Mapping[str, Account],
    balances: Mapping[BalanceKey, Balance],
    *,
    pending: bool,
    text: AmountText = raw_units,
) -> list[BookedPosting]:
    """Apply postings to locked balances: account rules per posting, then limits per balance.

    Mutates `balances`; the caller writes them back only if this returns (a rejection raises
    before anything is stored, so the transaction is rolled back whole).
    """
    booked = []
    touched: dict[BalanceKey, Balance] = {}
    for index, posting in enumerate(postings):
        account = accounts[posting.account_code]
        balance = balances[(account.id, posting.instrument_code)]
        try:
            account.check_can_post(posting.side, posting.instrument_code)
            balance.add(posting.side, posting.units, pending=pending, text=text)
        except LedgerError as error:
            error.field = f"postings[{index}].{error.field}"  # name the line that broke the rule
            raise
        touched[(account.id, posting.instrument_code)] = balance
        booked.append(_booked(account, posting, balance, pending=pending))
    check_limits(touched.values(), accounts, text)
    return booked


def _booked(
    account: Account, posting: PostingDraft, balance: Balance, *, pending: bool
) -> BookedPosting:
    return BookedPosting(
        account_id=account.id,
        account_code=account.code,
        instrument_code=posting.instrument_code,
        side=posting.side,
        units=posting.units,
        debits_after=None if pending else balance.debits_posted,
        credits_after=None if pending else balance.credits_posted,
    )


def check_limits(
    balances: Iterable[Balance], accounts: Mapping[str, Account], text: AmountText = raw_units
) -> None:
    """Every touched non-negative balance stays at or above zero (in account-id order)."""
    ordered = sorted(balances, key=lambda b: (b.account_id, b.instrument_code))
    if any(b.non_negative and b.available < 0 for b in ordered):
        code_of = {account.id: account.code for account in accounts.values()}
        for balance in ordered:
            balance.check_limit(code_of[balance.account_id], text)


def release_pending(
    pending: Sequence[PostingRecord],
    accounts: Mapping[str, Account],
    balances: Mapping[BalanceKey, Balance],
) -> None:
    """Take every pending amount of a resolved pending entry out of the pending counters."""
    for posting in pending:
        balance = balances[(accounts[posting.account_code].id, posting.instrument_code)]
        balance.release_pending(posting.side, posting.units)


def reversal_postings(original: EntryRecord) -> tuple[PostingDraft, ...]:
    """The original's postings with sides swapped: applied, they restore every balance."""
    return tuple(
        PostingDraft(p.account_code, p.instrument_code, p.side.opposite, p.units)
        for p in original.postings
    )


def partial_post_postings(
    pending: Sequence[PostingRecord],
    requested: Sequence[PostingDraft] | None,
    text: AmountText = raw_units,
) -> tuple[PostingDraft, ...]:
    """What a post of a pending entry books: all of it, or the requested part of each line.

    A partial post names lines by (account, instrument, side); each may take at most its pending
    amount, lines it leaves out post nothing, and the result must still balance.
    """
    full = tuple(PostingDraft(p.account_code, p.instrument_code, p.side, p.units) for p in pending)
    if requested is None:
        return full
    check_unique_keys(requested)
    available = {p.key: p.units for p in full}
    for posting in requested:
        if posting.key not in available:
            raise InvalidField(
                f"{posting.account_code} {posting.instrument_code} {posting.side.value} "
                "is not a line of the pending entry",
                field="postings",
            )
        if posting.units > available[posting.key]:
            raise PostExceedsPending(
                f"{posting.account_code}: {text(posting.instrument_code, posting.units)} "
                f"requested, {text(posting.instrument_code, available[posting.key])} pending",
                field="postings",
            )
    check_balanced(requested, text)
    return tuple(requested)
