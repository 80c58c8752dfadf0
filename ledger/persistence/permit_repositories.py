"""Repository of outlet permits (migration 0023) and penalty-basis events (0024): append-only
rows, read per outlet or party.

Decimals are stored as their exact text (standards, reference O2, efficiencies), so what a
regulator stated is read back digit for digit.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, insert, select

from ledger.domain.penalty_basis import PenaltyBasisEvent, PenaltyReason
from ledger.domain.permits import Permit
from ledger.domain.tax_tables import Pollutant
from ledger.persistence import tables as t

_P = t.outlet_permits.c
_E = t.penalty_basis_events.c


def _texts(values: Mapping[str, Decimal]) -> dict[str, str]:
    return {key: str(value) for key, value in sorted(values.items())}


def _decimals(values: Mapping[str, Any]) -> dict[str, Decimal]:
    return {str(key): Decimal(str(value)) for key, value in values.items()}


def _permit(row: Row[Any]) -> Permit:
    return Permit(
        party=row.party_code,
        outlet=row.outlet_code,
        effective_from=row.effective_from,
        standards=_decimals(row.standards),
        reference_o2=None if row.reference_o2 is None else Decimal(row.reference_o2),
        removal_efficiencies=_decimals(row.removal_efficiencies),
        cems_required=row.cems_required,
        reference=row.reference,
        particulate=Pollutant(row.particulate),
        set_by=row.set_by,
        set_at=row.set_at,
    )


class SqlPermitRepository:
    """Outlet permits: added, never changed; read in effective order."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_permit(self, permit: Permit) -> None:
        assert permit.set_at is not None and permit.set_by, "a stored permit says who and when"
        self._connection.execute(
            insert(t.outlet_permits).values(
                party_code=permit.party,
                outlet_code=permit.outlet,
                effective_from=permit.effective_from,
                standards=_texts(permit.standards),
                reference_o2=None if permit.reference_o2 is None else str(permit.reference_o2),
                removal_efficiencies=_texts(permit.removal_efficiencies),
                cems_required=permit.cems_required,
                reference=permit.reference,
                particulate=permit.particulate.value,
                set_by=permit.set_by,
                set_at=permit.set_at,
            )
        )

    def permits_of(self, party: str, outlet: str | None = None) -> list[Permit]:
        """The permits of one outlet (or of every outlet of `party`), by outlet and month."""
        query = select(t.outlet_permits).where(_P.party_code == party)
        if outlet is not None:
            query = query.where(_P.outlet_code == outlet)
        query = query.order_by(_P.outlet_code, _P.effective_from)
        return [_permit(row) for row in self._connection.execute(query)]

    # -- penalty-basis events ----------------------------------------------------------------

    def add_event(self, event: PenaltyBasisEvent) -> None:
        assert event.recorded_at is not None and event.recorded_by, "stored events say who"
        self._connection.execute(
            insert(t.penalty_basis_events).values(
                id=event.id,
                party_code=event.party,
                outlet_code=event.outlet,
                reason=event.reason.value,
                first_month=event.first_month,
                last_month=event.last_month,
                evidence=event.evidence,
                generated_kg=_texts(event.generated_kg),
                recorded_by=event.recorded_by,
                recorded_at=event.recorded_at,
            )
        )

    def get_event(self, event_id: str) -> PenaltyBasisEvent | None:
        row = self._connection.execute(
            select(t.penalty_basis_events).where(_E.id == event_id)
        ).first()
        return None if row is None else _event(row)

    def events_of(self, party: str) -> list[PenaltyBasisEvent]:
        """The party's events, by first month and id."""
        query = (
            select(t.penalty_basis_events)
            .where(_E.party_code == party)
            .order_by(_E.first_month, _E.id)
        )
        return [_event(row) for row in self._connection.execute(query)]


def _event(row: Row[Any]) -> PenaltyBasisEvent:
    return PenaltyBasisEvent(
        id=row.id,
        party=row.party_code,
        outlet=row.outlet_code,
        reason=PenaltyReason(row.reason),
        first_month=row.first_month,
        last_month=row.last_month,
        evidence=row.evidence,
        generated_kg=_decimals(row.generated_kg),
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )
