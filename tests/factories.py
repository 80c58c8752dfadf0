"""Small builders for tests: a registry with instruments and accounts ready to post."""

from __future__ import annotations

from decimal import Decimal

from ledger.domain.accounts import Side
from ledger.domain.amounts import Instrument, InstrumentKind
from ledger.domain.entries import PostingRequest
from ledger.domain.ports import AccountDraft, UnitOfWorkFactory
from ledger.services import journal, registry

SO2 = Instrument(
    "SO2-2026", "SO2 emission right, vintage 2026", InstrumentKind.EMISSION_RIGHT, "t", 3
)
CEA = Instrument(
    "CEA-2025", "Carbon emission allowance 2025", InstrumentKind.CARBON_ALLOWANCE, "tCO2", 0
)
CNY = Instrument("CNY", "Chinese yuan", InstrumentKind.CASH, "CNY", 2)


def setup_registry(store: UnitOfWorkFactory, *holders: str) -> None:
    """Instruments SO2-2026, CEA-2025 and CNY; an issuance account and non-negative holders."""
    for instrument in (SO2, CEA, CNY):
        registry.register_instrument(store, instrument)
    registry.open_account(
        store, AccountDraft("ISSUANCE", "HEBEI", "Provincial issuance", Side.DEBIT, False, None)
    )
    for code in holders:
        registry.open_account(
            store, AccountDraft(code, code, f"{code} holdings", Side.CREDIT, True, None)
        )


def transfer(
    entry_id: str,
    source: str,
    destination: str,
    amount: str,
    instrument: str = "SO2-2026",
    *,
    pending: bool = False,
    entry_type: str = "transfer",
) -> journal.PostEntry:
    """An entry moving `amount` from `source` (debited) to `destination` (credited)."""
    return journal.PostEntry(
        entry_id=entry_id,
        entry_type=entry_type,
        postings=(
            PostingRequest(source, instrument, Side.DEBIT, Decimal(amount)),
            PostingRequest(destination, instrument, Side.CREDIT, Decimal(amount)),
        ),
        pending=pending,
    )
