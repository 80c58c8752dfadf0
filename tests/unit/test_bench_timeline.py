"""`bench.timeline`: what a locked write's timed statements add up to, across processes.

The timing itself runs in `make bench-smoke` (`bench.load --timeline`, which fails a run that
timed nothing); here, the arithmetic of the table it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import timeline
from ledger.persistence import postgresql_write_path as write_path

LOCK, WRITE, AUDIT = write_path.LOCK, write_path.WRITE, write_path.AUDIT
RULES = "SELECT (SELECT policies.value FROM policies WHERE policies.key = %(key)s)"

# An acceptance: its first lock answered at 10 ms, the fee account's lock and the commit after.
ACCEPT = [
    (timeline.label(LOCK), 0.000, 0.010),
    (timeline.label(RULES), 0.011, 0.014),
    (timeline.label(LOCK), 0.015, 0.020),
    (timeline.label(WRITE), 0.021, 0.025),
    ("commit", 0.025, 0.030),
]


def test_a_transaction_is_timed_from_its_first_lock_to_its_commit() -> None:
    totals: dict[str, timeline.Action] = {}
    timeline.add(totals, "trades.accept", ACCEPT)
    kept = totals["trades.accept"]
    assert kept.count == 1
    assert kept.first_lock == pytest.approx(0.010)
    assert kept.held == pytest.approx(0.020)
    # The second lock is a statement after the first: the client's gap before it, its own time.
    fee_lock = kept.steps[timeline.label(LOCK)]
    assert fee_lock.before == pytest.approx(0.001)
    assert fee_lock.own == pytest.approx(0.005)
    assert kept.steps["commit"].before == pytest.approx(0.0)


def test_a_transaction_that_locks_no_balance_is_not_timed() -> None:
    totals: dict[str, timeline.Action] = {}
    timeline.add(totals, "trades.propose", [(timeline.label(RULES), 0.0, 0.001), ("commit", 0, 0)])
    assert totals == {}


def test_processes_add_up_and_the_table_lists_statements_in_their_order(tmp_path: Path) -> None:
    for pid in (1, 2):
        process = timeline.Timeline(tmp_path)
        process.path = tmp_path / f"timeline-{pid}.json"
        timeline.add(process.totals, "trades.accept", ACCEPT)
        process.save()
    merged = timeline.merge(tmp_path.glob("timeline-*.json"))
    assert merged["trades.accept"].count == 2
    table = timeline.report(merged)
    names = [line.split("  ")[1] for line in table[2:]]
    assert names[0] == timeline.FIRST_LOCK
    assert names[1].startswith("SELECT (SELECT policies")
    assert names[-1] == timeline.HELD
    assert table[-1].split()[-1] == "20.00"  # held, mean ms over both


def test_only_committed_writes_of_the_measured_seconds_count(tmp_path: Path) -> None:
    process = timeline.Timeline(tmp_path)

    def write(committed: bool) -> None:
        process.statement(LOCK, ([1], ["SO2-2026"]), 0.0)
        process.statement(AUDIT, [{"action": "entries.post"}], 0.0)
        process.end(committed, 0.0)

    write(committed=True)  # the warm-up
    (tmp_path / timeline.MEASURING).touch()
    write(committed=False)
    write(committed=True)
    assert process.totals["entries.post"].count == 1
