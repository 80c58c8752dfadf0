"""What the raw journal may still be used for: adjustments, and nothing a domain operation owns.

An allocation, a reserve sale, a trade's settlement, a surrender, a penalty, a tax incentive, a
reversal... are each written by their own operation, which checks its rules and its authority
(four-eyes included) and links the entry to its business record. The generic journal endpoints
(`/v1/entries`, `/v1/batches`, `/v1/bulk`, `/v1/pending-entries`) take only the adjustment types
below; an entry that creates or destroys rights or cash (it touches an account that may go below
zero, such as an issuance account, or a sink such as cancellation) needs four eyes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ledger.domain.accounts import Account
from ledger.domain.errors import Kind, LedgerError
from ledger.domain.registry import CANCELLATION, RETIREMENT, SURRENDERED

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
