"""Alembic migrations on brand-new databases: up, no drift, down to nothing, and up again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, MetaData, Table, create_engine, inspect, text
from sqlalchemy.engine import make_url

from ledger.domain.accounts import Side
from ledger.domain.errors import BlockOfWiderAuthority
from ledger.domain.ports import AccountDraft
from ledger.domain.registry import Listing, ListingMode
from ledger.persistence import migrate, record_chains, tables
from ledger.persistence.engine import create_ledger_engine, normalize_url
from ledger.persistence.record_chains import Part, RecordChain
from ledger.persistence.store import Store
from ledger.persistence.tables import metadata
from ledger.services import blocks, chain, journal, listings, queries
from ledger.services.record_chains import verify_chain
from tests.conftest import POSTGRES_ADMIN_URL
from tests.factories import SO2, actor, setup_registry, transfer
from tests.integration.registry_support import TRADE_DAY, build_registry, entitle, of

LEDGER_TABLES = {
    "instruments",
    "accounts",
    "balances",
    "entries",
    "postings",
    "entry_references",
    "journal_chain",
}
REGISTRY_TABLES = {
    "parties",
    "outlets",
    "cities",
    "policies",
    "entitlements",
    "pledges",
    "trades",
    "trade_events",
    "obligations",
    "surrenders",
}
ACCESS_TABLES = {"principals", "api_tokens", "approval_requests", "audit_log"}
# Append-only tables: triggers refuse UPDATE and DELETE on both databases.
JOURNAL_TABLES = ("entries", "postings", "entry_references", "journal_chain", "audit_log")


@pytest.fixture
def brand_new_postgres_url(postgres_url: str) -> Iterator[str]:
    """A database that has never been migrated, dropped afterwards (`postgres_url` skips or fails
    the test the usual way when PostgreSQL is unreachable)."""
    del postgres_url
    name = f"ledger_migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(normalize_url(POSTGRES_ADMIN_URL)).set(database=name)
        yield url.render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def brand_new_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'brand-new.db'}"
    url: str = request.getfixturevalue("brand_new_postgres_url")
    return url


def table_names(url: str) -> set[str]:
    engine = create_engine(normalize_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def guards(url: str) -> set[str]:
    """Names of the ledger's triggers and trigger functions in the database."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            else:
                query = (
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal UNION ALL "
                    "SELECT proname FROM pg_proc WHERE proname LIKE 'ledger\\_%'"
                )
            return set(connection.execute(text(query)).scalars())
    finally:
        engine.dispose()


def post_and_check(url: str) -> list[str]:
    """Use the ledger on the database; the invariant violations found afterwards."""
    store = Store(create_ledger_engine(url))
    try:
        setup_registry(store, "ALPHA")
        journal.post_entry(store, transfer("fund-alpha", "ISSUANCE", "ALPHA", "10"))
        journal.reverse_entry(store, journal.ReverseEntry("fund-alpha", "r-1"))
        assert chain.seal_all(store) == 2  # the chain has rows to downgrade
        assert chain.verify(store).of("journal") == chain.ChainVerdict("journal", 2, None)
        return [violation.rule for violation in queries.check_invariants(store, actor(store))]
    finally:
        store.dispose()


def test_upgrading_a_brand_new_database_creates_every_ledger_table(brand_new_url: str) -> None:
    migrate.upgrade(brand_new_url)

    created = table_names(brand_new_url)

    assert LEDGER_TABLES | REGISTRY_TABLES | ACCESS_TABLES | {"alembic_version"} <= created
    assert created == {table.name for table in metadata.sorted_tables} | {"alembic_version"}


def test_upgrading_installs_the_journal_guards(brand_new_url: str) -> None:
    migrate.upgrade(brand_new_url)

    installed = guards(brand_new_url)

    if make_url(brand_new_url).get_backend_name() == "sqlite":
        expected = {f"{t}_no_{op}" for t in JOURNAL_TABLES for op in ("update", "delete")}
    else:
        expected = {f"{t}_immutable" for t in JOURNAL_TABLES} | {
            "postings_balanced",
            "ledger_refuse_change",
            "ledger_check_entry_balanced",
        }
    assert expected <= installed  # later issues add guards of their own


def test_the_migrated_schema_has_no_drift_from_the_table_definitions(brand_new_url: str) -> None:
    migrate.upgrade(brand_new_url)

    migrate.check(brand_new_url)  # raises if autogenerate would find anything to change


def test_a_migrated_database_holds_a_working_ledger(brand_new_url: str) -> None:
    migrate.upgrade(brand_new_url)

    assert post_and_check(brand_new_url) == []


def test_downgrading_to_base_leaves_no_ledger_tables_triggers_or_functions(
    brand_new_url: str,
) -> None:
    migrate.upgrade(brand_new_url)

    migrate.downgrade(brand_new_url)

    assert table_names(brand_new_url) == {"alembic_version"}  # Alembic keeps its own, empty
    assert guards(brand_new_url) == set()


def test_downgrading_to_base_works_with_entries_that_reverse_other_entries(
    brand_new_url: str,
) -> None:
    migrate.upgrade(brand_new_url)
    post_and_check(brand_new_url)  # leaves a reversal pointing at the entry it reverses

    migrate.downgrade(brand_new_url)

    assert table_names(brand_new_url) == {"alembic_version"}


def test_upgrading_again_after_a_downgrade_gives_a_working_ledger_without_drift(
    brand_new_url: str,
) -> None:
    migrate.upgrade(brand_new_url)
    migrate.downgrade(brand_new_url)

    migrate.upgrade(brand_new_url)

    migrate.check(brand_new_url)
    created = table_names(brand_new_url)

    assert LEDGER_TABLES | REGISTRY_TABLES | ACCESS_TABLES | {"alembic_version"} <= created
    assert created == {table.name for table in metadata.sorted_tables} | {"alembic_version"}
    assert post_and_check(brand_new_url) == []


def test_an_entry_stored_with_an_unpadded_year_is_repaired_on_sqlite(tmp_path: Path) -> None:
    """The fast write path once stored an entry effective in year 999 as `999-01-01 …`: it
    sorted before everything and failed to parse, so its statements, the sealer and verify
    failed for ever. Migration 0009 rewrites it in the fixed form."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0008")
    store = Store(create_ledger_engine(url))
    try:
        # The registry as it stood at 0008 (no principal yet: their columns came later).
        with store() as uow:
            uow.instruments.add(SO2, uow.now())
            for draft in (
                AccountDraft("ISSUANCE", "HEBEI", "issuance", Side.DEBIT, False, None),
                AccountDraft("ALPHA", "ALPHA", "holdings", Side.CREDIT, True, None),
            ):
                uow.accounts.add(draft, uow.now())
            uow.commit()
        journal.post_entry(store, transfer("fund-alpha", "ISSUANCE", "ALPHA", "10"))
        with store.engine.begin() as connection:
            for table in ("entries", "postings"):
                connection.execute(text(f"DROP TRIGGER {table}_no_update"))
                connection.execute(
                    text(f"UPDATE {table} SET effective_at = '999-01-01 00:00:00.000000'")
                )
        with pytest.raises(ValueError, match="Invalid isoformat"):
            chain.seal_all(store)

        migrate.upgrade(url)

        with store.engine.connect() as connection:
            stored = connection.execute(text("SELECT effective_at FROM entries")).scalar_one()
        assert stored == "0999-01-01 00:00:00.000000"
        assert chain.seal_all(store) == 1
        assert chain.verify(store).ok
    finally:
        store.dispose()


def only_chains_it_has(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seal and verify, at an older revision, only the chains whose tables it has: a later
    migration made the others (0031's `obligation_payments`), and their triggers with them."""
    present = set(inspect(store.engine).get_table_names())
    monkeypatch.setattr(
        record_chains, "CHAINS", tuple(c for c in record_chains.CHAINS if c.table.name in present)
    )


def test_blocks_set_before_0025_still_verify_and_only_the_province_lifts_them(
    brand_new_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block written and sealed before migration 0025 (no setter recorded): the chain sealed
    in its old shape still verifies after the upgrade, the block is sealed again in its new one,
    and it counts as the province's."""
    migrate.upgrade(brand_new_url, "0024")
    store = Store(create_ledger_engine(brand_new_url))
    try:
        build_registry(store)  # nothing of it touches trading_blocks, unchanged since 0024
        with store.engine.begin() as connection:  # a city's block, as 0021-0024 stored it
            connection.execute(
                text(
                    "INSERT INTO trading_blocks (id, party_code, kind, pollutant, effective_from,"
                    " basis, created_at) VALUES ('B0', 'E2', 'enforcement', '', '2026-01-01',"
                    " 'set by Tangshan', '2026-01-01 08:00:00.000000')"
                )
            )
        # The sealer and verify as they were before 0025: the table without `set_by_city`.
        columns = [
            Column(c.name, c.type) for c in tables.trading_blocks.c if c.name != "set_by_city"
        ]
        old_shape = Table("trading_blocks", MetaData(), *columns)
        monkeypatch.setitem(record_chains.BY_NAME, "blocks", RecordChain("blocks", old_shape, "id"))
        only_chains_it_has(store, monkeypatch)
        chain.seal_all(store)
        assert chain.verify(store).ok
        monkeypatch.undo()

        migrate.upgrade(brand_new_url)

        assert chain.verify(store).of("blocks") == chain.ChainVerdict("blocks", 1, None)
        chain.seal_all(store)  # the block, queued by the migration, sealed in its new shape
        assert chain.verify(store).of("blocks") == chain.ChainVerdict("blocks", 2, None)
        with pytest.raises(BlockOfWiderAuthority):
            blocks.lift_block(store, of(store, "TANGSHAN"), "B0", date(2026, 3, 1))
        lifted = blocks.lift_block(store, of(store, "HEBEI"), "B0", date(2026, 3, 1))
        assert (lifted.lifted_on, lifted.set_by_city) == (date(2026, 3, 1), None)
        chain.seal_all(store)
        assert chain.verify(store).ok
    finally:
        store.dispose()


def test_bids_made_before_0027_keep_no_id_and_their_listings_still_verify(
    brand_new_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An auction with a bid written and sealed before migration 0027 (bids had no client id):
    the listings chain sealed in its old shape still verifies after the upgrade, the listing is
    sealed again in its new one, the bid has no id, and a bid under an id replays; downgraded
    again, the listing verifies and is sealed again in its old shape."""
    migrate.upgrade(brand_new_url, "0026")
    store = Store(create_ledger_engine(brand_new_url))
    try:
        build_registry(store)  # nothing of it touches listing_bids, unchanged since 0022
        entitle(store, "TANGSHAN", "SO2", 50_000)
        offer = Listing("A0", "TANGSHAN", "SO2", 1_000, 600_000, ListingMode.AUCTION, TRADE_DAY)
        listings.create_listing(store, of(store, "TANGSHAN"), offer)
        with store.engine.begin() as connection:  # E1's bid, as 0022-0026 stored it
            connection.execute(
                text(
                    "INSERT INTO listing_bids (listing_id, bidder, price_fen, at, outcome)"
                    " VALUES ('A0', 'E1', 600000, '2026-03-01 08:00:00.000000', '')"
                )
            )
        # The sealer and verify as they were before 0027: the bids without `client_id`.
        columns = [Column(c.name, c.type) for c in tables.listing_bids.c if c.name != "client_id"]
        old_bids = Table("listing_bids", MetaData(), *columns)
        old_chain = RecordChain(
            "listings", tables.listings, "id", (Part(old_bids, "listing_id", ("id",)),)
        )
        monkeypatch.setitem(record_chains.BY_NAME, "listings", old_chain)
        chain.seal_all(store)
        sealed = chain_verdict(store, "listings")
        assert sealed.first_break is None
        monkeypatch.undo()

        migrate.upgrade(brand_new_url)

        assert chain.verify(store).of("listings") == sealed
        chain.seal_all(store)  # the listing, queued by the migration, sealed in its new shape
        resealed = chain.ChainVerdict("listings", sealed.verified + 1, None)
        assert chain.verify(store).of("listings") == resealed
        _, bids = listings.get_listing(store, of(store, "TANGSHAN"), "A0")
        assert [(b.bidder, b.client_id) for b in bids] == [("E1", None)]
        e2 = of(store, "E2")
        assert not listings.bid(store, e2, "A0", 700_000, bid_id="E2-B1").replayed
        assert listings.bid(store, e2, "A0", 700_000, bid_id="E2-B1").replayed
        chain.seal_all(store)
        assert chain.verify(store).ok
        at_head = chain.verify(store).of("listings")

        # The way back: the ids go, the listing is queued and sealed again in its old shape.
        migrate.downgrade(brand_new_url, "0026")

        monkeypatch.setitem(record_chains.BY_NAME, "listings", old_chain)
        assert chain_verdict(store, "listings") == at_head
        chain.seal_all(store)
        back = chain.ChainVerdict("listings", at_head.verified + 1, None)
        assert chain_verdict(store, "listings") == back
    finally:
        store.dispose()


# -- Records sealed before a migration changed their table's shape -----------------------------
# A record's digest covers every column of its table (and its parts' rows): a migration that
# adds, drops or fills a column of a chained table changes the digest of every record of it, and
# unless the records are queued to be sealed again verify calls each one `record_changed`. Each
# case: a record written and sealed in its shape before such a migration (by the sealer as it
# then was: the table as it then was), verified across the upgrade to head.

NOW_TEXT = "'2026-01-01 08:00:00.000000'"
# The revision before 0026, the migration that queues the records below to be sealed again.
BEFORE_RESEAL = "0025"


@dataclass(frozen=True)
class ShapeChange:
    before: str  # the revision before the migration that changed the shape
    chain: str
    key: str  # the record's key, as the chain names it
    old_insert: str  # the record as written before that migration
    new_insert: str  # the record as written after it
    old_columns: tuple[Column[Any], ...] = ()  # columns the migration dropped
    new_columns: tuple[str, ...] = ()  # columns the migration added
    new_parts: tuple[str, ...] = ()  # parts the migration added to the chain


ENTITLEMENT = (
    "INSERT INTO entitlements (id, party_code, pollutant, units, first_vintage, last_vintage,"
    " permit, created_at{extra}) VALUES ('ENT-0', 'E1', 'SO2', 100, 2026, 2026, 'P-1',"
    f" {NOW_TEXT}{{value}})"
)
AUDIT_LINE = (
    "INSERT INTO audit_log (seq, at, principal_id, action, target, outcome, status)"
    f" VALUES (1, {NOW_TEXT}, 'p-1', 'POST /x', 'x', 'ok', 200)"
)
MATCH = (
    "INSERT INTO reconciliation_matches (id, reconciliation_id, method, difference_fen, reason,"
    f" created_by, created_at) VALUES (1, 'R-0', 'manual', 0, 'by hand', 'p-1', {NOW_TEXT})"
)
REDUCTION = (
    "INSERT INTO verified_reductions (id, party_code, pollutant, year, baseline_kind,"
    " baseline_kg, baseline_hours, actual_kg, actual_hours, reduction_kg, released_units,"
    f" release, created_at) VALUES ('VR-0', 'E1', 'SO2', 2025, 'cems', '10', 100, '5', 100, 5,"
    f" 0, 'none', {NOW_TEXT})"
)
PRINCIPAL = (
    "INSERT INTO principals (id, name, kind, role, active, created_at{extra})"
    f" VALUES ('p-9', 'Auditor', 'user', 'regulator', TRUE, {NOW_TEXT}{{value}})"
)
APPROVAL = (
    "INSERT INTO approval_requests (id, operation, payload, authority, initiator{extra}, state,"
    f" created_at, expires_at) VALUES ('A-0', 'x', '{{{{}}}}', 'HEBEI', 'p-1'{{value}}, 'pending',"
    f" {NOW_TEXT}, {NOW_TEXT})"
)
PERMIT = (
    "INSERT INTO outlet_permits (seq, party_code, outlet_code, effective_from, standards,"
    " removal_efficiencies, cems_required, reference, set_by, set_at{extra}) VALUES (1,"
    " 'E1', 'SINTER-1', '2025-01-01', '{{}}', '{{}}', FALSE, 'P-1', 'reg-1',"
    f" {NOW_TEXT}{{value}})"
)
SHAPE_CHANGES = {
    # A control on the way up (0011 fills the new columns with an UPDATE): not on the way back.
    "0011 approval_requests.initiator_person": ShapeChange(
        "0010",
        "approvals",
        "A-0",
        APPROVAL.format(extra="", value=""),
        APPROVAL.format(extra=", initiator_person", value=", 'staff-1'"),
        new_columns=("initiator_person", "decided_by_person"),
    ),
    # A control: 0011 fills the new column with an UPDATE, which the triggers queue.
    "0011 principals.person": ShapeChange(
        "0010",
        "principals",
        "p-9",
        PRINCIPAL.format(extra="", value=""),
        PRINCIPAL.format(extra=", person", value=", 'staff-9'"),
        new_columns=("person",),
    ),
    "0011 audit_log.request_id": ShapeChange(
        "0010", "audit", "1", AUDIT_LINE, AUDIT_LINE, new_columns=("request_id",)
    ),
    "0012 reconciliation_matches.client_id": ShapeChange(
        "0011", "reconciliation_matches", "1", MATCH, MATCH, new_columns=("client_id",)
    ),
    "0014 verified_reductions.retrofit_month": ShapeChange(
        "0013",
        "reductions",
        "VR-0",
        REDUCTION,
        REDUCTION,
        new_columns=("retrofit_month",),
        new_parts=("verified_reduction_reversals",),
    ),
    "0020 cities.may_receive_air_rights": ShapeChange(
        "0019",
        "cities",
        "Handan",
        "INSERT INTO cities (name, basin, may_receive_air_rights) VALUES ('Handan', 'Hai', TRUE)",
        "INSERT INTO cities (name, basin) VALUES ('Handan', 'Hai')",
        old_columns=(Column("may_receive_air_rights", Boolean()),),
        new_parts=("city_years",),
    ),
    "0021 entitlements.acquisition": ShapeChange(
        "0020",
        "entitlements",
        "ENT-0",
        ENTITLEMENT.format(extra="", value=""),
        ENTITLEMENT.format(extra=", acquisition", value=", 'paid'"),
        new_columns=("acquisition",),
    ),
    "0030 outlet_permits.particulate": ShapeChange(
        "0029",
        "permits",
        "1",
        PERMIT.format(extra="", value=""),
        PERMIT.format(extra=", particulate", value=", 'soot'"),
        new_columns=("particulate",),
    ),
}


def write_unchecked(url: str, change: ShapeChange, insert: str) -> None:
    """Write the record alone (its parents' foreign keys not checked) and queue it, as the
    chain's triggers do."""
    engine = create_engine(normalize_url(url))  # SQLite: foreign keys off without the pragma
    now = "clock_timestamp()" if engine.dialect.name == "postgresql" else "CURRENT_TIMESTAMP"
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":  # no foreign keys (nor triggers) checked
                connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(insert))
            connection.execute(
                text(
                    "INSERT INTO record_changes (chain, record_key, changed_at)"
                    f" VALUES ('{change.chain}', '{change.key}', {now})"
                )
            )
    finally:
        engine.dispose()


def old_chain_of(change: ShapeChange) -> RecordChain:
    """The chain as the sealer saw it before the migration: the table as it then was."""
    current = record_chains.BY_NAME[change.chain]
    columns = [Column(c.name, c.type) for c in current.table.c if c.name not in change.new_columns]
    columns += [Column(c.name, c.type) for c in change.old_columns]  # a Column is one table's
    old_shape = Table(current.table.name, MetaData(), *columns)
    parts = tuple(p for p in current.parts if p.table.name not in change.new_parts)
    return RecordChain(change.chain, old_shape, current.key, parts)


def chain_verdict(store: Store, name: str) -> chain.ChainVerdict:
    """The one chain verified (the others' tables may not exist yet at an old revision)."""
    verified, broken = verify_chain(
        store, name, page_size=chain.VERIFY_PAGE_SIZE, grace=chain.UNCHAINED_GRACE
    )
    return chain.ChainVerdict(name, verified, broken)


@pytest.mark.parametrize("name", list(SHAPE_CHANGES))
def test_records_sealed_before_their_table_changed_shape_still_verify_after_the_upgrade(
    brand_new_url: str, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    change = SHAPE_CHANGES[name]
    migrate.upgrade(brand_new_url, change.before)
    store = Store(create_ledger_engine(brand_new_url))
    try:
        write_unchecked(brand_new_url, change, change.old_insert)
        monkeypatch.setitem(record_chains.BY_NAME, change.chain, old_chain_of(change))
        chain.seal_all(store)
        assert chain_verdict(store, change.chain) == chain.ChainVerdict(change.chain, 1, None)
        monkeypatch.undo()

        migrate.upgrade(brand_new_url)

        assert chain.verify(store).of(change.chain) == chain.ChainVerdict(change.chain, 1, None)
        chain.seal_all(store)  # the record, queued again, sealed in its new shape
        assert chain.verify(store).of(change.chain) == chain.ChainVerdict(change.chain, 2, None)
    finally:
        store.dispose()


@pytest.mark.parametrize("name", list(SHAPE_CHANGES))
def test_records_already_sealed_in_their_new_shape_are_not_sealed_again(
    brand_new_url: str, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A database that went through the shape change and sealed its records since: queuing them
    again changes nothing (the sealer links only a record whose digest changed)."""
    change = SHAPE_CHANGES[name]
    # Before 0026, which queued every record of the earlier shape changes; a later shape change
    # is its own: its records are written at it.
    migrate.upgrade(brand_new_url, max(BEFORE_RESEAL, name.split(maxsplit=1)[0]))
    store = Store(create_ledger_engine(brand_new_url))
    only_chains_it_has(store, monkeypatch)  # the later tables' chains have nothing to seal
    try:
        write_unchecked(brand_new_url, change, change.new_insert)
        chain.seal_all(store)
        assert chain.verify(store).of(change.chain) == chain.ChainVerdict(change.chain, 1, None)

        migrate.upgrade(brand_new_url)

        assert chain.verify(store).of(change.chain) == chain.ChainVerdict(change.chain, 1, None)
        chain.seal_all(store)
        assert chain.verify(store).of(change.chain) == chain.ChainVerdict(change.chain, 1, None)
        with store.engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM record_changes")).scalar() == 0
    finally:
        store.dispose()


@pytest.mark.parametrize("name", list(SHAPE_CHANGES))
def test_records_sealed_before_a_downgrade_changed_their_shape_back_still_verify(
    brand_new_url: str, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The way back: a record sealed at the migration that changed its shape, then the migration
    downgraded; the record is queued and sealed again in its old shape."""
    change = SHAPE_CHANGES[name]
    migration = name.split(maxsplit=1)[0]  # the table there is as it is at head
    migrate.upgrade(brand_new_url, migration)
    store = Store(create_ledger_engine(brand_new_url))
    try:
        write_unchecked(brand_new_url, change, change.new_insert)
        chain.seal_all(store)
        assert chain_verdict(store, change.chain) == chain.ChainVerdict(change.chain, 1, None)

        migrate.downgrade(brand_new_url, change.before)

        monkeypatch.setitem(record_chains.BY_NAME, change.chain, old_chain_of(change))
        assert chain_verdict(store, change.chain) == chain.ChainVerdict(change.chain, 1, None)
        chain.seal_all(store)  # the record, queued by the downgrade, sealed in its old shape
        assert chain_verdict(store, change.chain) == chain.ChainVerdict(change.chain, 2, None)
    finally:
        store.dispose()
