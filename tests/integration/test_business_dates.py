"""A business date survives four eyes: an allocation or a confiscation that waits for a second
regulator takes effect on the date it was asked for, whenever it is approved."""

from __future__ import annotations

from datetime import date, datetime

from ledger.domain.access import FOUR_EYES_DEFAULT, Pending, RequestState, Role
from ledger.domain.finance import BEIJING
from ledger.domain.registry import PROVINCE, Entitlement, Party, PartyKind
from ledger.persistence.store import Store
from ledger.services import approvals, parties, queries, rights
from tests.factories import actor


def test_an_approved_allocation_and_confiscation_take_effect_on_their_business_dates(
    store: Store,
) -> None:
    parties.bootstrap(
        store,
        Party(PROVINCE, PartyKind.AUTHORITY, "Hebei"),
        Party("EXCHANGE", PartyKind.EXCHANGE, "Exchange"),
        operator="test",
    )
    asking = actor(store, Role.REGULATOR, PROVINCE, principal="reg-a")
    approving = actor(store, Role.REGULATOR, PROVINCE, principal="reg-b")
    parties.register_party(store, asking, Party("E1", PartyKind.ENTERPRISE, "E1", city="Tangshan"))
    store.four_eyes = FOUR_EYES_DEFAULT
    large = Entitlement("E1-SO2", "E1", "SO2", 2_000_000, 2026, 2030)  # 2,000 t/a: four eyes
    seizure = rights.ReserveOperation(
        "C1",
        rights.ReserveAction.CONFISCATION,
        PROVINCE,
        "SO2",
        1_000,
        2027,
        2027,
        party="E1",
        business_date=date(2026, 2, 1),
    )

    for asked in (
        rights.confirm_entitlement(store, asking, large, date(2026, 1, 5)),
        rights.reserve_operation(store, asking, seizure),
    ):
        assert isinstance(asked, Pending)
        decided = approvals.approve(store, approving, asked.request.id)
        assert decided.state is RequestState.APPLIED

    for entry_id, day in (
        ("entitlement-E1-SO2-2026", date(2026, 1, 5)),
        ("confiscation-C1", date(2026, 2, 1)),
    ):
        record = queries.get_entry(store, asking, entry_id).record
        assert record.effective_at == datetime(day.year, day.month, day.day, tzinfo=BEIJING)
