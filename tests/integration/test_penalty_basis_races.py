"""Penalty-basis events recorded at once, on both databases (PostgreSQL: real concurrent
writers): each amends the same filed quarter, or reverses the same verified reduction, in its
own transaction (rules §1.1, §7.3). Every event is recorded, none refused; the quarter ends with
one return in force that reflects them all, each return before it void and its incentive
reversed once; the reduction is reversed once and its reclaim given back once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from ledger.domain.incentives import IncentiveNotFound
from ledger.domain.pages import Created
from ledger.domain.penalty_basis import PenaltyBasisEvent, PenaltyReason
from ledger.domain.registry import Entitlement, Outlet
from ledger.domain.tax_filing import FiledReturn, Quarter, to_fen
from ledger.persistence.store import Store
from ledger.services import (
    incentives,
    parties,
    penalty_basis,
    queries,
    reductions,
    reports,
    rights,
    tax,
)
from tests.integration.monitoring_support import set_permit
from tests.integration.tax_support import (
    P,
    build_tax_registry,
    filer,
    line,
    regulator,
    verified_report,
    worked_example,
)
from tests.integration.test_amended_returns import agency, verifier

D = Decimal
JANUARY, FEBRUARY = date(2026, 1, 1), date(2026, 2, 1)
APRIL, MAY, JUNE = date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)
Q2 = Quarter(2026, 2)


def event(
    event_id: str, month: date, reason: PenaltyReason, figure: int | None = None
) -> PenaltyBasisEvent:
    generated = {} if figure is None else {"SO2": D(figure)}
    return PenaltyBasisEvent(
        event_id,
        "E01",
        "SINTER-1",
        reason,
        month,
        month,
        f"inspection report HB-2026-{event_id}",
        generated_kg=generated,
    )


def record_at_once(store: Store, events: Sequence[PenaltyBasisEvent]) -> list[bool]:
    """Record `events` on as many threads released together; whether each was a replay (an
    error raised on a thread fails the test with it)."""
    barrier = threading.Barrier(len(events))

    def record(made: PenaltyBasisEvent) -> Created[PenaltyBasisEvent]:
        barrier.wait(timeout=30)
        return penalty_basis.record_event(store, regulator(store), made)

    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        answers = list(pool.map(record, events))
    assert [answer.record.id for answer in answers] == [made.id for made in events]
    return [answer.replayed for answer in answers]


def posted(store: Store, account: str, instrument: str = "CNY") -> int:
    with store(read_only=True) as uow:
        found = uow.accounts.get_many([account]).get(account)
        held = None if found is None else uow.journal.balance_of(found.id, instrument)
        return 0 if held is None else held.posted


def returns_of_q2(store: Store) -> list[FiledReturn]:
    found = tax.list_returns(store, regulator(store), "E01", 2026, None, 100).items
    return sorted((r for r in found if r.quarter == Q2), key=lambda r: r.version)


# -- the same filed quarter ---------------------------------------------------------------------


@pytest.fixture
def verified(store: Store) -> Store:
    """E01's SINTER-1 2026Q2 verified (the worked example of rules §1.3 each month)."""
    build_tax_registry(store)
    parties.add_outlet(store, regulator(store), Outlet("E01", "SINTER-1"))
    standards = {"SO2": "35", "NOx": "50", "PM": "10"}
    removal = {"SO2": "0.95", "NOx": "0.80", "PM": "0.99"}
    set_permit(store, "E01", "SINTER-1", standards, o2="16", removal=removal)
    lines = [x for m in (APRIL, MAY, JUNE) for x in worked_example(m)]
    verified_report(store, "E01", "2026Q2", lines)
    return store


@pytest.fixture
def filed(verified: Store) -> Store:
    """The same, its 2026Q2 return filed (r1)."""
    tax.file_return(verified, filer(verified), "E01", Q2)
    return verified


def test_events_recorded_at_once_each_amend_the_filed_quarter_once(filed: Store) -> None:
    store = filed
    # Each changes the quarter in whatever order they commit: a month of its own each.
    events = [
        event("EV-1", APRIL, PenaltyReason.CEMS_TAMPERED),
        event("EV-2", MAY, PenaltyReason.CEMS_TAMPERED),
        event("EV-3", JUNE, PenaltyReason.ILLEGAL_DISCHARGE, figure=400_000),
    ]

    assert record_at_once(store, events) == [False, False, False]

    versions = returns_of_q2(store)
    assert [r.id for r in versions] == [f"E01-2026Q2-r{n}" for n in (1, 2, 3, 4)]
    assert [r.supersedes for r in versions[1:]] == [r.id for r in versions[:-1]]
    assert [r.void for r in versions] == [True, True, True, False]  # one return in force
    latest = versions[-1]
    assert latest.computed == tax.compute_quarter(store, filer(store), "E01", Q2).computed
    april, may, june = latest.computed.months  # every event in it
    assert april.line("SINTER-1", P.SO2).mass_kg == may.line("SINTER-1", P.SO2).mass_kg
    assert june.line("SINTER-1", P.SO2).mass_kg == D(400_000)  # above 17,280 / 0.05
    assert latest.computed.total_reduction == D("0.00")
    # The books say what the return in force says, each amendment booked once.
    assert posted(store, "E01:env_tax_owed") == to_fen(latest.computed.total_due)
    assert posted(store, "E01:tax_incentives") == to_fen(latest.computed.total_reduction)
    for old in versions[:-1]:  # every earlier incentive reversed, once (its entry id is one)
        reversal = incentives.get_incentive(store, regulator(store), f"a13-{old.id}").reversal
        assert reversal is not None and "penalty-basis event EV-" in reversal.detail
    with pytest.raises(IncentiveNotFound):  # no reduction left to book
        incentives.get_incentive(store, regulator(store), f"a13-{latest.id}")
    assert queries.check_invariants(store, regulator(store)) == []


def test_the_same_event_recorded_at_once_amends_the_quarter_once(filed: Store) -> None:
    answers = record_at_once(filed, [event("EV-1", APRIL, PenaltyReason.CEMS_TAMPERED)] * 3)

    assert sorted(answers) == [False, True, True]  # one write, two replays
    assert [r.id for r in returns_of_q2(filed)] == ["E01-2026Q2-r1", "E01-2026Q2-r2"]
    with pytest.raises(IncentiveNotFound):
        incentives.get_incentive(filed, regulator(filed), "a13-E01-2026Q2-r3")
    assert queries.check_invariants(filed, regulator(filed)) == []


def test_an_event_recorded_as_the_quarter_is_filed_is_in_the_return_in_force(
    verified: Store,
) -> None:
    store = verified
    barrier = threading.Barrier(2)

    def file() -> Created[FiledReturn]:
        barrier.wait(timeout=30)
        return tax.file_return(store, filer(store), "E01", Q2)

    def record() -> Created[PenaltyBasisEvent]:
        barrier.wait(timeout=30)
        made = event("EV-1", APRIL, PenaltyReason.CEMS_TAMPERED)
        return penalty_basis.record_event(store, regulator(store), made)

    with ThreadPoolExecutor(max_workers=2) as pool:
        filing, recording = pool.submit(file), pool.submit(record)
        assert not filing.result(timeout=120).replayed
        assert not recording.result(timeout=120).replayed

    # Filed first, the event amended it (r2); recorded first, the filing took it (r1).
    *before, latest = returns_of_q2(store)
    assert [r.void for r in before] == [True] * len(before) and not latest.void
    assert latest.computed == tax.compute_quarter(store, filer(store), "E01", Q2).computed
    assert latest.computed.months[0].total_reduction == D("0.00")  # April's event in it
    assert posted(store, "E01:env_tax_owed") == to_fen(latest.computed.total_due)
    assert posted(store, "E01:tax_incentives") == to_fen(latest.computed.total_reduction)
    assert queries.check_invariants(store, regulator(store)) == []


# -- the same verified reduction ------------------------------------------------------------------


@pytest.fixture
def reduced(store: Store) -> Store:
    """E01's 2026 SO2 report (20 t in each of January and February, SINTER-1) verified, and a
    reduction on it against the 100 t entitlement: 60,000 units reclaimed into the reserve."""
    build_tax_registry(store)
    entitlement = Entitlement("E01-SO2", "E01", "SO2", 100_000, 2026, 2030)
    rights.confirm_entitlement(store, regulator(store), entitlement)
    parties.add_outlet(store, regulator(store), Outlet("E01", "SINTER-1"))
    months = (JANUARY, FEBRUARY)
    report = verified_report(
        store, "E01", "2026", [line(m, P.SO2, "20", "35", mass=D(20_000)) for m in months]
    )
    request = reductions.ReductionRequest(id="R1", report_id=report, pollutant="SO2")
    reductions.verify_reduction(store, regulator(store), request)
    assert posted(store, "HEBEI:reserve", "SO2-2027") == 60_000
    return store


def test_events_recorded_at_once_reverse_the_reduction_once(reduced: Store) -> None:
    store = reduced
    events = [
        event("EV-1", JANUARY, PenaltyReason.CEMS_TAMPERED),
        event("EV-2", FEBRUARY, PenaltyReason.CEMS_TAMPERED),
        event("EV-3", JANUARY, PenaltyReason.ILLEGAL_DISCHARGE),
    ]

    assert record_at_once(store, events) == [False, False, False]

    assert len(penalty_basis.list_events(store, regulator(store), "E01")) == 3
    (record,) = reductions.list_reductions(store, regulator(store), "E01", None, 10).items
    assert record.reversal is not None
    assert (record.reversal.restored_units, record.reversal.unrestored_units) == (60_000, 0)
    assert posted(store, "E01:holdings", "SO2-2027") == 100_000  # given back once
    assert posted(store, "HEBEI:reserve", "SO2-2027") == 0
    assert queries.check_invariants(store, regulator(store)) == []


def test_a_correction_verified_as_events_are_recorded_amends_in_turn(filed: Store) -> None:
    store = filed
    lines = [x for m in (APRIL, MAY, JUNE) for x in worked_example(m)]
    lines[0] = replace(lines[0], exceedances=1)  # the correction changes April
    draft = reports.correct_report(store, filer(store), "E01-2026Q2-v1", agency(lines)).record
    reports.submit_report(store, filer(store), draft.report.id)
    events = [
        event("EV-1", APRIL, PenaltyReason.CEMS_TAMPERED),
        event("EV-2", MAY, PenaltyReason.CEMS_TAMPERED),
        event("EV-3", JUNE, PenaltyReason.ILLEGAL_DISCHARGE, figure=400_000),
    ]
    barrier = threading.Barrier(1 + len(events))

    def verify() -> reports.ReportView:
        barrier.wait(timeout=30)
        return reports.verify_report(store, verifier(store), draft.report.id)

    def record(made: PenaltyBasisEvent) -> Created[PenaltyBasisEvent]:
        barrier.wait(timeout=30)
        return penalty_basis.record_event(store, regulator(store), made)

    with ThreadPoolExecutor(max_workers=1 + len(events)) as pool:
        verifying = pool.submit(verify)
        recordings = [pool.submit(record, made) for made in events]
        verifying.result(timeout=120)
        assert [r.result(timeout=120).replayed for r in recordings] == [False] * len(events)

    # In whatever order they committed, each amended the return in force then: five
    # versions, the last on the correction with every event in it, the books saying the same.
    versions = returns_of_q2(store)
    assert [r.id for r in versions] == [f"E01-2026Q2-r{n}" for n in range(1, 6)]
    assert [r.supersedes for r in versions[1:]] == [r.id for r in versions[:-1]]
    latest = versions[-1]
    assert (latest.void, latest.report_ids) == (False, (draft.report.id,))
    assert latest.computed == tax.compute_quarter(store, filer(store), "E01", Q2).computed
    assert latest.computed.months[2].line("SINTER-1", P.SO2).mass_kg == D(400_000)
    assert posted(store, "E01:env_tax_owed") == to_fen(latest.computed.total_due)
    assert posted(store, "E01:tax_incentives") == to_fen(latest.computed.total_reduction)
    assert queries.check_invariants(store, regulator(store)) == []
