"""Pydantic models of the wire format: what clients send and what they get back.

Amounts travel as decimal strings in the instrument's unit ("1500.000" t, "12.30" CNY) next to
their integer `units`; anything finer than the instrument's scale is refused, never rounded.
Unknown fields are refused too, so a misspelt field cannot be silently ignored.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

from ledger.domain import limits
from ledger.domain.bounds import DateOutOfRange, check_date, check_instant

Code = Annotated[
    str,
    Field(
        min_length=1, max_length=limits.CODE_LENGTH_MAX, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
    ),
]
InstrumentCode = Annotated[
    str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
EntryType = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


def _no_nul(text: str) -> str:
    # PostgreSQL text cannot hold U+0000; refuse it on both databases alike.
    if "\x00" in text:
        raise ValueError("text may not contain the NUL character")
    return text


def _in_range(value: date) -> date:
    """A date or instant within the range the ledger accepts (ledger.domain.limits)."""
    try:
        if isinstance(value, datetime):
            check_instant(value, "instant")
        else:
            check_date(value, "date")
    except DateOutOfRange:
        raise PydanticCustomError(
            "date_out_of_range",
            "{value} is outside {first} to {last}",
            {
                "value": value.isoformat(),
                "first": str(limits.DATE_MIN),
                "last": str(limits.DATE_MAX),
            },
        ) from None
    return value


NO_NUL = AfterValidator(_no_nul)
# Every date and instant a client sends: within 2000-01-01 to 2100-12-31 (UTC for instants).
Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]
BusinessDate = Annotated[date, AfterValidator(_in_range)]
Name = Annotated[str, Field(min_length=1, max_length=limits.NAME_LENGTH_MAX), NO_NUL]
Memo = Annotated[str, Field(max_length=limits.MEMO_LENGTH_MAX), NO_NUL]
AmountText = Annotated[str, Field(min_length=1, max_length=40)]
SideName = Literal["debit", "credit"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentIn(Strict):
    code: InstrumentCode
    name: Name
    kind: Literal["cash", "emission_right", "carbon_allowance", "offset"]
    unit: Annotated[str, Field(min_length=1, max_length=32), NO_NUL]
    scale: Annotated[int, Field(ge=0, le=limits.SCALE_MAX)]


class InstrumentOut(InstrumentIn):
    pass


class AccountIn(Strict):
    code: Code
    party: Code
    name: Name
    normal_side: SideName
    non_negative: bool = Field(
        description="refuse any entry that would take the balance on the normal side below zero"
    )
    instrument: InstrumentCode | None = Field(
        default=None, description="when set, the only instrument this account may hold"
    )


class AccountOut(Strict):
    code: str
    party: str
    name: str
    normal_side: SideName
    non_negative: bool
    instrument: str | None
    frozen: bool
    closed: bool


class AccountPage(Strict):
    accounts: list[AccountOut]
    next_cursor: str | None


class ReferenceModel(Strict):
    kind: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
    id: Annotated[str, Field(min_length=1, max_length=128), NO_NUL]


class PostingIn(Strict):
    account: Code
    instrument: InstrumentCode
    side: SideName
    amount: AmountText = Field(description="decimal string in the instrument's unit, e.g. '30.000'")


Metadata = Annotated[dict[str, Any], Field(default_factory=dict)]


class _Described(Strict):
    effective_at: Instant | None = Field(
        default=None, description="when it takes effect in the business sense (default: now)"
    )
    memo: Memo = ""
    metadata: Metadata

    @field_validator("metadata")
    @classmethod
    def _metadata_fits(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            text = json.dumps(value, allow_nan=False)
        except ValueError:
            raise ValueError("metadata may not contain NaN or Infinity") from None
        if len(text.encode()) > limits.METADATA_BYTES_MAX:
            raise ValueError(
                f"metadata must serialize to at most {limits.METADATA_BYTES_MAX} bytes"
            )
        return value


class EntryIn(_Described):
    entry_id: Code = Field(description="chosen by the client; the idempotency key")
    entry_type: EntryType
    postings: list[PostingIn]
    references: Annotated[
        list[ReferenceModel], Field(max_length=limits.REFERENCES_PER_ENTRY_MAX)
    ] = []


class PendingEntryIn(EntryIn):
    expires_at: Instant | None = Field(
        default=None, description="after this instant the hold can no longer be posted"
    )


class ReverseIn(_Described):
    entry_id: Code = Field(description="id of the new reversing entry (idempotency key)")


class PostPendingIn(_Described):
    entry_id: Code = Field(description="id of the new posting entry (idempotency key)")
    postings: list[PostingIn] | None = Field(
        default=None, description="for a partial post: the part of each pending line to post"
    )


class VoidPendingIn(_Described):
    entry_id: Code = Field(description="id of the void record (idempotency key)")


class BatchEntryIn(PendingEntryIn):
    pending: bool = Field(default=False, description="place this entry as a pending hold")


class BatchIn(Strict):
    entries: list[BatchEntryIn]


class PostingOut(Strict):
    account: str
    instrument: str
    side: SideName
    amount: str
    units: int


class EntryOut(Strict):
    entry_id: str
    entry_type: str
    status: Literal["posted", "pending", "voided", "expired"] = Field(
        description="what the record is; for a pending entry `state` says what became of it"
    )
    state: str
    effective_at: datetime
    recorded_at: datetime
    memo: str
    metadata: dict[str, Any]
    references: list[ReferenceModel]
    postings: list[PostingOut]
    reverses_entry_id: str | None
    pending_entry_id: str | None
    expires_at: datetime | None
    reversed_by: str | None
    resolved_by: str | None


class BatchOut(Strict):
    entries: list[EntryOut]


class BulkItemOut(Strict):
    index: int
    entry_id: str
    outcome: Literal["created", "replayed", "rejected"]
    entry: EntryOut | None = None
    code: str | None = None
    field: str | None = None
    detail: str | None = None


class BulkOut(Strict):
    results: list[BulkItemOut]


class MoneyOut(Strict):
    amount: str
    currency: str


class BalanceOut(Strict):
    account: str
    instrument: str
    normal_side: SideName
    balance: str = Field(description="posted balance on the account's normal side")
    available: str = Field(description="balance less what pending entries may still take")
    debits_posted: str
    credits_posted: str
    debits_pending: str
    credits_pending: str
    money: MoneyOut | None = Field(
        default=None, description="for cash instruments: the balance as money"
    )
    version: int | None = Field(description="changes counted so far (current balance only)")
    as_of: datetime | None
    axis: Literal["recorded", "effective"] | None


class BalanceList(Strict):
    balances: list[BalanceOut]


class StatementLineOut(Strict):
    posting_id: int
    entry_id: str
    entry_type: str
    recorded_at: datetime
    effective_at: datetime
    side: SideName
    amount: str
    balance: str = Field(description="posted balance on the normal side after this line")


class StatementOut(Strict):
    account: str
    instrument: str
    lines: list[StatementLineOut]
    next_cursor: str | None


class TrialBalanceLineOut(Strict):
    account: str
    party: str
    normal_side: SideName
    debit: str = Field(description="net balance if it is a debit balance, else 0")
    credit: str = Field(description="net balance if it is a credit balance, else 0")


class TrialBalanceOut(Strict):
    instrument: str
    lines: list[TrialBalanceLineOut]
    debits_total: str
    credits_total: str
    balanced: bool


class ViolationOut(Strict):
    rule: str
    detail: str


class InvariantReport(Strict):
    ok: bool
    violations: list[ViolationOut]


class ChainBreakOut(Strict):
    chain_seq: int | None
    record: str | None
    problem: str
    detail: str
    action: str


class ChainVerdictOut(Strict):
    chain: str
    verified: int
    first_break: ChainBreakOut | None


class VerifyReport(Strict):
    ok: bool
    chains: list[ChainVerdictOut]
    violations: list[ViolationOut]


class ExpiryOut(Strict):
    expired: list[str]


class HealthOut(Strict):
    status: Literal["ok"]
    database: str


class LivenessOut(Strict):
    status: Literal["ok"]
