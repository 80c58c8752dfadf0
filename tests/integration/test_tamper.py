"""Tamper evidence, end to end: someone with write access to the database edits an amount,
deletes a posting or a link, reorders entries, inserts a forged entry, truncates the chain or
deletes it whole, or edits a balance, bypassing the immutability triggers (see
`chain_support.tamper`), and `verify` — the service, `emissions-ledger verify` and
`GET /v1/verify` alike — reports it: per chain the first problem (its chain_seq, the record, what
differs and what to do) and the balances that no longer equal their postings; the command exits
1. Sealing afterwards (the server's sweeper, `emissions-ledger seal`) never hides it.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.domain.chain import ChainProblem, SealRefused
from ledger.entrypoints import cli
from ledger.persistence.store import Store
from ledger.services import chain, journal
from ledger.services.chain import VerifyReport
from tests.api.conftest import client, clock  # noqa: F401 - the API fixtures, used here too
from tests.factories import setup_registry, transfer
from tests.integration.chain_support import (
    chain_rows,
    chain_seq_of,
    forge_entry,
    seq_of,
    swap_chain_positions,
    tamper,
)

ENTRY_IDS = ("fund-alpha", "t-1", "t-2", "t-3")


@dataclass(frozen=True)
class Verdicts:
    """What the three ways of verifying said about the same database."""

    report: VerifyReport  # the service
    exit_code: int  # emissions-ledger verify
    output: str
    http: dict[str, Any]  # GET /v1/verify

    @property
    def journal(self) -> chain.ChainVerdict:
        return self.report.of("journal")

    @property
    def http_journal(self) -> dict[str, Any]:
        return next(c for c in self.http["chains"] if c["chain"] == "journal")


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
        report = chain.verify(store)
        capsys.readouterr()
        exit_code = cli.main(["verify"])
        output = capsys.readouterr().out
        response = client.get("/v1/verify")
        assert response.status_code == 200, response.text
        return Verdicts(report, exit_code, output, response.json())

    return run


@pytest.fixture
def seal_again(store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Seal as the server's sweeper and `emissions-ledger seal` would: neither may hide a break
    (each either chains nothing or refuses)."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)

    def run() -> None:
        with contextlib.suppress(SealRefused):
            chain.seal_round(store)
        cli.main(["seal"])

    return run


def assert_first_break(
    verdicts: Verdicts, chain_seq: int | None, record: str | None, problem: ChainProblem
) -> str:
    """All three report this first problem of the journal's chain; its detail (the same
    everywhere)."""
    broken = verdicts.journal.first_break
    assert broken is not None
    assert (broken.chain_seq, broken.record, broken.problem) == (chain_seq, record, problem)
    if chain_seq is not None:
        assert verdicts.journal.verified == chain_seq - 1  # every link before it checks out
    assert not verdicts.report.ok

    assert verdicts.exit_code == 1
    assert (
        f"journal: first broken link: chain_seq {chain_seq}, record {record}: {problem.value} "
        f"({broken.detail})" in verdicts.output
    )
    assert f"journal: what to do: {broken.action}" in verdicts.output
    assert "verification FAILED" in verdicts.output

    assert verdicts.http["ok"] is False
    assert verdicts.http_journal == {
        "chain": "journal",
        "verified": verdicts.journal.verified,
        "first_break": {
            "chain_seq": chain_seq,
            "record": record,
            "problem": problem.value,
            "detail": broken.detail,
            "action": broken.action,
        },
    }
    return broken.detail


def violation_rules(verdicts: Verdicts) -> list[str]:
    rules = [violation.rule for violation in verdicts.report.violations]
    assert [violation["rule"] for violation in verdicts.http["violations"]] == rules
    for violation in verdicts.report.violations:
        assert f"{violation.rule}: {violation.detail}" in verdicts.output
    return rules


def test_an_untouched_ledger_verifies_everywhere(store: Store, verify: Any) -> None:
    journal.post_entry(store, transfer("t-4", "ALPHA", "BETA", "1"))  # not sealed yet: fine

    verdicts = verify()

    assert verdicts.report.ok
    assert verdicts.journal == chain.ChainVerdict("journal", len(ENTRY_IDS), None)
    assert verdicts.exit_code == 0
    assert f"journal: {len(ENTRY_IDS)} links verified" in verdicts.output
    assert verdicts.http["ok"] is True
    assert verdicts.http_journal == {
        "chain": "journal",
        "verified": len(ENTRY_IDS),
        "first_break": None,
    }
    assert verdicts.http["violations"] == []


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


def test_an_edited_entry_whose_link_was_deleted_is_never_chained_again(
    store: Store, verify: Any, seal_again: Any
) -> None:
    """The attack that used to pass: edit a sealed entry, delete its link; verify used to seal
    first and so chain the edited entry anew (and the server's sweeper did the same)."""
    removed = chain_seq_of(store, "t-1")
    tamper(
        store,
        "UPDATE entries SET memo = 'edited' WHERE entry_id = 't-1'",
        f"DELETE FROM journal_chain WHERE chain_seq = {removed}",
    )
    seal_again()

    verdicts = verify()

    detail = assert_first_break(verdicts, removed, "t-2", ChainProblem.GAP)
    assert f"chain_seq {removed} is missing" in detail
    assert [entry for _, entry, _, _ in chain_rows(store)] == ["fund-alpha", "t-2", "t-3"]


def test_the_newest_links_deleted_disagree_with_the_head(
    store: Store, verify: Any, seal_again: Any
) -> None:
    tamper(store, f"DELETE FROM journal_chain WHERE chain_seq >= {chain_seq_of(store, 't-2')}")
    seal_again()

    verdicts = verify()

    detail = assert_first_break(verdicts, None, None, ChainProblem.HEAD_MISMATCH)
    assert "the head records 4 links" in detail
    assert "the chain holds 2 links" in detail


def test_all_links_deleted_disagree_with_the_head(
    store: Store, verify: Any, seal_again: Any
) -> None:
    tamper(store, "DELETE FROM journal_chain")
    seal_again()

    verdicts = verify()

    assert_first_break(verdicts, None, None, ChainProblem.HEAD_MISMATCH)
    assert chain_rows(store) == []


def test_all_links_and_the_head_deleted_leave_old_entries_unchained(
    store: Store, verify: Any, seal_again: Any
) -> None:
    """The chain of a ledger whose entries are days old wiped whole, head included: it looks
    like a ledger never sealed. Verify reports its entries as left unchained; the sealer does
    not rebuild a chain over entries older than its backlog (against a checkpoint, see
    test_checkpoints.py, the wipe is caught at any age)."""
    days_ago = (store.clock() - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S.%f")
    tamper(
        store,
        "DELETE FROM journal_chain",
        "DELETE FROM chain_heads",
        f"UPDATE entries SET recorded_at = '{days_ago}'",
    )
    seal_again()

    verdicts = verify()

    assert_first_break(verdicts, None, "fund-alpha", ChainProblem.NOT_CHAINED)
    assert chain_rows(store) == []


def test_a_link_added_behind_the_sealer_disagrees_with_the_head(store: Store, verify: Any) -> None:
    journal.post_entry(store, transfer("t-4", "ALPHA", "BETA", "1"))
    last_seq, _, _, last_hash = chain_rows(store)[-1]
    tamper(
        store,
        "INSERT INTO journal_chain (chain_seq, entry_seq, previous_hash, hash, sealed_at)"
        f" VALUES ({last_seq + 1}, {seq_of('t-4')}, '{last_hash}', '{'a' * 64}',"
        " CURRENT_TIMESTAMP)",
    )

    verdicts = verify()

    # The forged link's hash is wrong too; the walk meets that first.
    assert_first_break(verdicts, last_seq + 1, "t-4", ChainProblem.HASH_MISMATCH)


def test_an_entry_with_seq_0_is_not_accounted_for(
    store: Store, verify: Any, seal_again: Any
) -> None:
    forge_entry(store, "forged-0", 0, store.clock())
    seal_again()

    verdicts = verify()

    detail = assert_first_break(verdicts, None, "forged-0", ChainProblem.UNACCOUNTED)
    assert "seq 0: the ledger never draws a seq below 1" in detail
    assert "balance_mismatch" not in violation_rules(verdicts)  # the forger moved them too


def test_a_forged_entry_dated_in_the_past_is_never_chained(
    store: Store, verify: Any, seal_again: Any
) -> None:
    """A balanced entry inserted behind the ledger's back, recorded two days ago: the sealer
    leaves it (older than its backlog) and verify reports it; `seal --backlog` is the
    operator's decision."""
    forge_entry(store, "forged", 1000, store.clock() - timedelta(days=2))
    seal_again()

    verdicts = verify()

    detail = assert_first_break(verdicts, None, "forged", ChainProblem.NOT_CHAINED)
    assert "still not chained" in detail
    assert len(chain_rows(store)) == len(ENTRY_IDS)


def test_an_edited_balance_row_is_reported_as_a_balance_mismatch(store: Store, verify: Any) -> None:
    tamper(
        store,
        "UPDATE balances SET credits_posted = credits_posted + 5"
        " WHERE account_id = (SELECT id FROM accounts WHERE code = 'BETA')",
    )

    verdicts = verify()

    # The chain is intact (balances are derived, not sealed): the balance check catches it.
    assert verdicts.journal == chain.ChainVerdict("journal", len(ENTRY_IDS), None)
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
    assert verdicts.http_journal["first_break"] is None
