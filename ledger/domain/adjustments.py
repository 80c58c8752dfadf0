"""What the raw journal may still be used for: adjustments, and nothing a domain operation owns.

An allocation, a reserve sale, a trade's settlement, a surrender, a penalty, a tax incentive, a
reversal... are each written by their own operation, which checks its rules and its authority
(four-eyes included) and links the entry to its business record. The generic journal endpoints
(`/v1/entries`, `/v1/batches`, `/v1/bulk`, `/v1/pending-entries`) take only the adjustment types
below. An entry that creates or destroys rights or cash (it touches an account that may go below
zero, such as an issuance account, or a sink such as cancellation) needs four eyes, and so does
one that moves anything into or out of an enterprise's (or the exchange's) account, which is
also held to a trade's transfer rules (decision "An adjustment of a holder's account is a
transfer, with four eyes"). An account whose balance a registry record accounts for (pledged
rights, surrendered allowances, penalties owed) is never touched by an adjustment at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger.domain.accounts import Account, Side
from ledger.domain.entries import PostingRecord, PostingRequest
from ledger.domain.errors import Kind, LedgerError
from ledger.domain.registry import (
    CANCELLATION,
    CASH,
    PENALTIES,
    PLEDGED,
    RETIREMENT,
    SURRENDERED,
    Party,
    PartyKind,
)

# The types a regulator may write through the raw journal.
ADJUSTMENT_TYPES = frozenset({"transfer", "adjustment", "correction"})

# Entry types written only by their operation (the endpoint that does), for the refusal's text.
OWNED_BY: Mapping[str, str] = {
    "allocation": "POST /v1/entitlements or POST /v1/carbon-issuances",
    "offset_issuance": "POST /v1/carbon-issuances",
    "deposit": "POST /v1/deposits",
    "pledge": "POST /v1/pledges",
    "pledge_release": "POST /v1/pledges/{pledge_id}/release",
    "reserve_sale": "POST /v1/reserve-operations",
    "buy_back": "POST /v1/reserve-operations",
    "reclaim": "POST /v1/reserve-operations",
    "confiscation": "POST /v1/reserve-operations",
    "cancellation": "POST /v1/reserve-operations",
    "vintage_expiry": "POST /v1/vintages/{family}/{year}/expire",
    "trade_settlement": "the trade workflow (POST /v1/trades/...)",
    "surrender": "POST /v1/obligations/{obligation_id}/surrenders",
    "penalty": "POST /v1/obligations/{obligation_id}/close",
    "tax_incentive": "POST /v1/incentives or a tax return",
    "tax_incentive_reversal": "POST /v1/reports/{report_id}/invalidate",
    "tax_incentive_clawback": "POST /v1/equipment-credits/{equipment_id}/clawback",
    "reversal": "POST /v1/entries/{entry_id}/reverse",
}

# Accounts whose balance is the sum of registry records, and the operations that keep it so: an
# adjustment there would leave a pledge, a surrender or a penalty saying what the books do not.
OWNED_BY_RECORDS: Mapping[str, str] = {
    PLEDGED.suffix: "pledges (POST /v1/pledges, POST /v1/pledges/{pledge_id}/release)",
    SURRENDERED.suffix: "surrenders (POST /v1/obligations/{obligation_id}/surrenders)",
    PENALTIES.suffix: "penalties and their payments",
}

# Parties whose accounts hold what they own or what their clients consigned: moving anything
# into or out of them is a transfer between holders, which the trade rules govern.
HOLDER_KINDS = frozenset({PartyKind.ENTERPRISE, PartyKind.EXCHANGE})

# Accounts where rights end (credit-normal and limited, yet what lands there leaves supply).
SINK_SUFFIXES = frozenset({RETIREMENT.suffix, CANCELLATION.suffix, SURRENDERED.suffix})


class EntryTypeNotAllowed(
    LedgerError,
    code="entry_type_not_allowed",
    kind=Kind.UNPROCESSABLE,
    title="This entry type is written only by its own operation",
):
    """An entry of a type a domain operation owns (an allocation, a trade settlement, a
    reversal...) is sent to a generic journal endpoint, which takes adjustments only."""


class EntryOwnedByOperation(
    LedgerError,
    code="entry_owned_by_operation",
    kind=Kind.UNPROCESSABLE,
    title="This entry belongs to a domain operation; only that operation may resolve or reverse it",
):
    """A generic journal endpoint is asked to post, void or reverse an entry a workflow wrote
    (a trade's hold, an allocation)."""


class NeedsFourEyes(
    LedgerError,
    code="four_eyes_required",
    kind=Kind.UNPROCESSABLE,
    title="This entry needs a second principal: post it alone or in a batch",
):
    """A bulk item would create or destroy rights or cash, which takes four eyes: bulk answers
    per item and cannot wait for an approval."""


class AccountOwnedByRecord(
    LedgerError,
    code="account_owned_by_record",
    kind=Kind.UNPROCESSABLE,
    title="This account changes only through its registry records",
):
    """An adjustment names an account whose balance registry records account for (a party's
    pledged rights, surrendered allowances or penalties owed): only their operations move it."""


def check_adjustment_type(entry_type: str, field: str = "entry_type") -> None:
    """Refuse an entry type that is not an adjustment, naming the operation that owns it."""
    if entry_type in ADJUSTMENT_TYPES:
        return
    owner = OWNED_BY.get(entry_type)
    where = f"; {entry_type} entries are written by {owner}" if owner else ""
    allowed = ", ".join(sorted(ADJUSTMENT_TYPES))
    raise EntryTypeNotAllowed(f"the journal takes only adjustments ({allowed}){where}", field=field)


def check_generic(entry_id: str, entry_type: str) -> None:
    """An entry the raw journal may resolve or reverse: one it wrote itself."""
    if entry_type not in ADJUSTMENT_TYPES:
        owner = OWNED_BY.get(entry_type, "its own operation")
        raise EntryOwnedByOperation(
            f"entry {entry_id} is a {entry_type} entry, resolved or reversed only by {owner}",
            field="entry_id",
        )


def changes_supply(accounts: Iterable[Account]) -> bool:
    """Whether postings on these accounts may create or destroy rights or cash: one of them may
    go below zero (an issuance, budget, deposits or penalties account), or is a sink."""
    return any(
        not account.non_negative or account.code.rsplit(":", 1)[-1] in SINK_SUFFIXES
        for account in accounts
    )


def check_not_record_owned(postings: Sequence[PostingRequest], prefix: str = "") -> None:
    """Refuse a posting on an account that only its registry records change, naming the posting
    (`prefix`: the batch entry it belongs to, if any)."""
    for index, posting in enumerate(postings):
        suffix = posting.account_code.rsplit(":", 1)[-1]
        owner = OWNED_BY_RECORDS.get(suffix) if ":" in posting.account_code else None
        if owner is not None:
            raise AccountOwnedByRecord(
                f"account {posting.account_code} changes only through {owner}, never by an "
                "adjustment",
                field=f"{prefix}postings[{index}].account",
                account=posting.account_code,
            )


def holder_accounts(accounts: Iterable[Account], parties: Mapping[str, Party]) -> set[str]:
    """The codes of the accounts among `accounts` that belong to an enterprise or the exchange
    (`parties`: the registered parties among their owners; an unregistered owner holds nothing
    the registry's rules speak of)."""
    return {
        account.code
        for account in accounts
        if (party := parties.get(account.party)) is not None and party.kind in HOLDER_KINDS
    }


@dataclass(frozen=True, slots=True)
class Transfer:
    """Rights of `family` leaving `giver`'s account (posting `giver_index`) for `receiver`'s
    (posting `receiver_index`), within one entry: what the trade rules judge."""

    giver: str
    receiver: str
    family: str
    giver_index: int
    receiver_index: int


def family_of(instrument_code: str) -> str:
    """`SO2-2026` -> `SO2`, `CEA-2025` -> `CEA`; an instrument without a vintage is its own."""
    family, _, vintage = instrument_code.rpartition("-")
    return family if family and vintage.isdigit() else instrument_code


def transfers(
    postings: Sequence[PostingRequest | PostingRecord],
    owners: Mapping[str, str],
    holders: set[str],
) -> list[Transfer]:
    """Every movement of rights (not cash) between two parties in one entry's postings where
    one side is a holder's account: each debited account's party gives to each credited
    account's party, per instrument. `owners`: account code -> party (an unknown account is
    left out: the journal refuses it)."""
    found = []
    for give, giving in enumerate(postings):
        if giving.side is not Side.DEBIT or giving.instrument_code == CASH:
            continue
        for take, taking in enumerate(postings):
            if taking.side is not Side.CREDIT or taking.instrument_code != giving.instrument_code:
                continue
            giver, receiver = owners.get(giving.account_code), owners.get(taking.account_code)
            if giver is None or receiver is None or giver == receiver:
                continue
            if not {giving.account_code, taking.account_code} & holders:
                continue  # between parties of no holder: no trade rule speaks of it
            family = family_of(giving.instrument_code)
            found.append(Transfer(giver, receiver, family, give, take))
    return found
