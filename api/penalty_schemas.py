"""Request and response bodies of rights penalties (rules §7.10) and their payments."""

from __future__ import annotations

from pydantic import Field

from api.registry_schemas import Dated, Pollutant, RecordId, Text, cny, fen
from api.schemas import AmountText, Strict
from ledger.domain.penalties import PenaltyPayment, PenaltyStatus, RightsPenalty


class PenaltyIn(Strict):
    id: RecordId
    report: RecordId = Field(description="the verified report whose finding is penalised")
    pollutant: Pollutant
    amount_cny: AmountText = Field(description="100000.00 to 1000000.00")
    note: Text = ""
    business_date: Dated = None

    def to_domain(self) -> RightsPenalty:
        amount = fen(self.amount_cny, "amount_cny")
        return RightsPenalty(self.id, "", self.report, self.pollutant, amount, note=self.note)


class PenaltyOut(Strict):
    id: str
    party: str
    report: str
    pollutant: str
    findings: list[str] = Field(description="`shortfall`, `exceedances`: what the report showed")
    amount_cny: str
    paid_cny: str
    outstanding_cny: str
    note: str
    entry_id: str


def penalty_out(status: PenaltyStatus) -> PenaltyOut:
    p = status.penalty
    return PenaltyOut(
        id=p.id,
        party=p.party_code,
        report=p.report_id,
        pollutant=p.pollutant,
        findings=list(p.findings),
        amount_cny=cny(p.amount_fen),
        paid_cny=cny(status.paid_fen),
        outstanding_cny=cny(status.outstanding_fen),
        note=p.note,
        entry_id=f"rights-penalty-{p.id}",
    )


class PenaltyPage(Strict):
    penalties: list[PenaltyOut]
    next_cursor: str | None


class PaymentIn(Strict):
    id: RecordId
    amount_cny: AmountText
    business_date: Dated = None

    def to_domain(self, penalty_id: str) -> PenaltyPayment:
        return PenaltyPayment(self.id, penalty_id, fen(self.amount_cny, "amount_cny"))
