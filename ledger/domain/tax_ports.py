"""What the tax and incentive services need from storage (implemented in
`ledger.persistence.tax_repositories`); exposed on the unit of work as `uow.tax`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Protocol

from ledger.domain.access import Scope
from ledger.domain.incentives import (
    Incentive,
    IncentiveBasis,
    IncentiveKind,
    Reversal,
    VerifiedReduction,
)
from ledger.domain.tax_filing import FiledReturn


class TaxRepository(Protocol):
    """Policy settings, filed returns, incentive bases, incentives, reversals, reductions."""

    def get_policy(self) -> dict[str, Any] | None: ...
    def put_policy(self, values: Mapping[str, Any]) -> None: ...
    def add_return(self, filed: FiledReturn, report_of_month: Mapping[date, str]) -> None: ...
    def get_return(self, return_id: str) -> FiledReturn | None: ...
    def latest_return(self, party: str, year: int, quarter: int) -> FiledReturn | None: ...
    def list_returns(
        self,
        party: str | None,
        year: int | None,
        after: int,
        limit: int,
        *,
        scope: Scope = ...,
    ) -> list[tuple[int, FiledReturn]]: ...
    def add_basis(self, basis: IncentiveBasis, at: datetime) -> None: ...
    def get_basis(self, basis_id: str, *, lock: bool = False) -> IncentiveBasis | None:
        """With `lock`, the basis row is locked until commit (PostgreSQL; SQLite has one
        writer): bookings on one basis are checked one after the other."""
        ...

    def bases_of_report(self, report_id: str) -> list[IncentiveBasis]: ...
    def basis_of_return(self, return_id: str) -> IncentiveBasis | None: ...
    def void_basis(
        self, basis_id: str, report_id: str | None, reason: str, at: datetime
    ) -> None: ...
    def active_fen(self, basis_id: str) -> int:
        """Σ amount of the basis's incentives not reversed."""
        ...

    def add_incentive(self, incentive: Incentive) -> None: ...
    def get_incentive(self, incentive_id: str) -> Incentive | None: ...
    def incentives_of_basis(self, basis_id: str) -> list[Incentive]: ...
    def list_incentives(
        self,
        party: str | None,
        kind: IncentiveKind | None,
        after: int,
        limit: int,
        *,
        scope: Scope = ...,
    ) -> list[tuple[int, Incentive]]: ...
    def add_reversal(self, incentive_id: str, reversal: Reversal) -> None: ...
    def add_reduction(self, record: VerifiedReduction) -> None: ...
    def get_reduction(self, reduction_id: str) -> VerifiedReduction | None: ...
    def list_reductions(
        self, party: str | None, after: int, limit: int, *, scope: Scope = ...
    ) -> list[tuple[int, VerifiedReduction]]: ...
