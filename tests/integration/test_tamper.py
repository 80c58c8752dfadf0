"""Tamper evidence, end to end: someone with write access to the database edits an amount,
deletes a posting, reorders two entries or edits a balance, bypassing the immutability triggers
(see `chain_support.tamper`), and `verify` — the service, `emissions-ledger verify` and
`GET /v1/verify` alike — reports it: the first broken link (its chain_seq, the entry, what
differs) and the balances that no longer equal their postings. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.domain.chain import ChainProblem
from ledger.entrypoints import cli
from ledger.persistence.store import Store
from ledger.services import chain, journal
from ledger.services.chain import VerifyReport
from tests.api.conftest import client, clock  # noqa: F401 - the API fixtures, used here too
from tests.factories import setup_registry, transfer
from tests.integration.chain_support import chain_seq_of, seq_of, swap_chain_positions, tamper

ENTRY_IDS = ("fund-alpha", "t-1", "t-2", "t-3")


@dataclass(frozen=True)
class Verdicts:
    """What the three ways of verifying said about the same database."""

    report: VerifyReport  # the service
    exit_code: int  # emissions-ledger verify
    output: str
    http: dict[str, Any]  # GET /v1/verify


@pytest.fixture
def store(client: TestClient) -> Store:  # noqa: F811 - the API's store, not the root fixture
    """ALPHA funded with 100 t, then 10 t to BETA three times: four entries, all sealed."""
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, transfer("fund-alpha", "ISSUANCE", "ALPHA", "100"))
    for entry_id in ENTRY_IDS[1:]:
        journal.post_entry(store, transfer(entry_id, "ALPHA", "BETA", "10"))
    assert chain.seal_all(store) == len(ENTRY_IDS)
    return store


@pytest.fixture
def verify(
    store: Store,
    client: TestClient,  # noqa: F811
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """Verify the ledger through the service, the command and the endpoint."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)

    def run() -> Verdicts:
        report = chain.verify_journal(store)
        capsys.readouterr()
        exit_code = cli.main(["verify"])
        output = capsys.readouterr().out
        response = client.get("/v1/verify")
        assert response.status_code == 200, response.text
        return Verdicts(report, exit_code, output, response.json())

    return run


def assert_first_break(
    verdicts: Verdicts, chain_seq: int, entry_id: str, problem: ChainProblem
) -> str:
    """All three report this first broken link; its detail (the same everywhere)."""
    broken = verdicts.report.first_break
    assert broken is not None
    assert (broken.chain_seq, broken.entry_id, broken.problem) == (chain_seq, entry_id, problem)
    assert verdicts.report.chained == chain_seq - 1  # every link before it checks out
    assert not verdicts.report.ok

    assert verdicts.exit_code == 1
    assert (
        f"first broken link: chain_seq {chain_seq}, entry {entry_id}: {problem.value} "
        f"({broken.detail})" in verdicts.output
    )
    assert "verification FAILED" in verdicts.output

    assert verdicts.http["ok"] is False
    assert verdicts.http["chained"] == chain_seq - 1
    assert verdicts.http["first_break"] == {
        "chain_seq": chain_seq,
        "entry_id": entry_id,
        "problem": problem.value,
        "detail": broken.detail,
    }
    return broken.detail


def violation_rules(verdicts: Verdicts) -> list[str]:
    rules = [violation.rule for violation in verdicts.report.violations]
    assert [violation["rule"] for violation in verdicts.http["violations"]] == rules
    for violation in verdicts.report.violations:
        assert f"{violation.rule}: {violation.detail}" in verdicts.output
    return rules


def test_an_untouched_ledger_verifies_everywhere(store: Store, verify: Any) -> None:
    journal.post_entry(store, transfer("t-4", "ALPHA", "BETA", "1"))  # sealed by verify first

    verdicts = verify()

    assert verdicts.report.ok
    assert (verdicts.report.chained, verdicts.report.first_break) == (5, None)
    assert verdicts.exit_code == 0
    assert "chained entries verified: 5" in verdicts.output
    assert verdicts.http == {"ok": True, "chained": 5, "first_break": None, "violations": []}


def test_an_edited_posting_amount_is_the_first_broken_link(store: Store, verify: Any) -> None:
    tamper(
        store,
        f"UPDATE postings SET units = units + 1 WHERE entry_seq = {seq_of('t-2')}"
        " AND side = 'credit'",
    )

    verdicts = verify()

    detail = assert_first_break(
        verdicts, chain_seq_of(store, "t-2"), "t-2", ChainProblem.HASH_MISMATCH
    )
    assert "content or postings changed" in detail
    # The balances no longer equal their postings, and the entry no longer balances.
    assert {"entry_unbalanced", "balance_mismatch"} <= set(violation_rules(verdicts))


def test_an_amount_edited_on_both_sides_of_an_entry_is_still_caught(
    store: Store, verify: Any
) -> None:
    """Both postings edited alike: the entry still balances; only the chain proves the edit."""
    tamper(store, f"UPDATE postings SET units = units + 1 WHERE entry_seq = {seq_of('t-3')}")

    verdicts = verify()

    assert_first_break(verdicts, chain_seq_of(store, "t-3"), "t-3", ChainProblem.HASH_MISMATCH)
    assert "entry_unbalanced" not in violation_rules(verdicts)


def test_a_deleted_posting_is_the_first_broken_link(store: Store, verify: Any) -> None:
    tamper(
        store,
        "DELETE FROM postings WHERE id = "
        f"(SELECT min(id) FROM postings WHERE entry_seq = {seq_of('t-1')})",
    )

    verdicts = verify()

    assert_first_break(verdicts, chain_seq_of(store, "t-1"), "t-1", ChainProblem.HASH_MISMATCH)
    assert "entry_unbalanced" in violation_rules(verdicts)


def test_two_entries_swapped_in_the_chain_are_reported_at_the_first(
    store: Store, verify: Any
) -> None:
    first, second = swap_chain_positions(store, "t-1", "t-3")

    verdicts = verify()

    detail = assert_first_break(verdicts, first, "t-3", ChainProblem.HASH_MISMATCH)
    assert f"intact but was sealed at chain_seq {second}" in detail
    assert "reordered" in detail
    assert violation_rules(verdicts) == []  # the balances are untouched: only the chain sees it


def test_an_edited_entry_field_is_caught_though_the_balances_hold(
    store: Store, verify: Any
) -> None:
    tamper(store, "UPDATE entries SET memo = 'nothing to see' WHERE entry_id = 't-2'")

    verdicts = verify()

    assert_first_break(verdicts, chain_seq_of(store, "t-2"), "t-2", ChainProblem.HASH_MISMATCH)
    assert violation_rules(verdicts) == []


def test_only_the_first_broken_link_is_reported(store: Store, verify: Any) -> None:
    tamper(
        store,
        f"UPDATE postings SET units = units + 1 WHERE entry_seq = {seq_of('t-3')}",
        f"UPDATE postings SET units = units + 1 WHERE entry_seq = {seq_of('t-1')}",
    )

    verdicts = verify()

    assert_first_break(verdicts, chain_seq_of(store, "t-1"), "t-1", ChainProblem.HASH_MISMATCH)


def test_an_edited_balance_row_is_reported_as_a_balance_mismatch(store: Store, verify: Any) -> None:
    tamper(
        store,
        "UPDATE balances SET credits_posted = credits_posted + 5"
        " WHERE account_id = (SELECT id FROM accounts WHERE code = 'BETA')",
    )

    verdicts = verify()

    # The chain is intact (balances are derived, not sealed): the balance check catches it.
    assert verdicts.report.first_break is None
    assert verdicts.report.chained == len(ENTRY_IDS)
    assert not verdicts.report.ok
    assert violation_rules(verdicts) == ["balance_mismatch"]
    (violation,) = verdicts.report.violations
    # What differs: the stored counters against the postings' sums (units of 0.001 t).
    assert "balance counters [0, 30005, 0, 0] but postings sum to [0, 30000, 0, 0]" in (
        violation.detail
    )
    assert verdicts.exit_code == 1
    assert "verification FAILED" in verdicts.output
    assert verdicts.http["ok"] is False
    assert verdicts.http["first_break"] is None
