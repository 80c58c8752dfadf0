"""The tax tables as data (rules.md §7.6): read the entries, see the schedule a party is taxed
at in a month, and record a new entry (a rate, an equivalent value or a tier membership).

Recording an entry is an administrator's, and always takes four eyes (`tax_table`, in
`FOUR_EYES_ALWAYS`): a rate or a tier decides every enterprise's tax. The entry is checked when
asked for and again when approved (the tables may have changed meanwhile). Entries are never
changed; a later `valid_from`, or a later entry for the same one, supersedes. The client's `id`
makes it retry-safe: the same entry asked again answers its request (pending or decided), a
different one under the id is `record_exists_with_different_definition`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from ledger.domain.access import Actor, Pending
from ledger.domain.errors import RecordExists
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.tax_tables import (
    RateSchedule,
    TableEntry,
    TableKind,
    TableValue,
    TaxTables,
    check_entry,
    entry_payload,
    value_from_payload,
)
from ledger.services.authority import gate, party_in_scope, use_case
from ledger.services.transactions import in_transaction, read

TAX_TABLE = "tax_table"  # the four-eyes operation


def tables_in(uow: UnitOfWork) -> TaxTables:
    """Every entry of the tables, read in the caller's unit of work."""
    return TaxTables(tuple(uow.tax.table_entries()))


@use_case("tax.tables.list")
def list_entries(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    kind: TableKind | None,
    cursor: str | None,
    limit: int,
) -> Page[TableEntry]:
    """The entries in recording order (public to every reader: they are the rules)."""
    after = decode_cursor("tax_tables", cursor)
    check_page_size(limit)
    rows = read(uow_factory, lambda uow: uow.tax.list_table_entries(kind, after, limit))
    return keyset_page("tax_tables", rows, limit)


@use_case("tax.tables.schedule")
def schedule_of(
    uow_factory: UnitOfWorkFactory, actor: Actor, party: str, month: date
) -> RateSchedule:
    """The scheme, tier, rates and equivalent values `party` is taxed at in `month`."""

    def work(uow: UnitOfWork) -> RateSchedule:
        found = party_in_scope(uow, actor, party)
        return tables_in(uow).schedule_for(found.city, found.county, month.replace(day=1))

    return read(uow_factory, work)


@use_case("tax.tables.set")
def record_entry(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    entry_id: str,
    valid_from: date,
    value: TableValue,
) -> Created[TableEntry] | Pending:
    """Record an entry once a second administrator approves it (always four eyes)."""

    def work(uow: UnitOfWork) -> Created[TableEntry] | Pending:
        asked = TableEntry(entry_id, valid_from, value, actor.id)
        stored = uow.tax.get_table_entry(entry_id)
        if stored is not None and not stored.same_definition(asked):
            raise RecordExists(f"table entry {entry_id!r} exists otherwise", field="id")
        if stored is None:
            check_entry(asked, tables_in(uow))
        payload = entry_payload(entry_id, valid_from, value)
        pending = gate(uow, actor, TAX_TABLE, payload, key=entry_id)
        if pending is not None:
            return pending
        if stored is not None:  # approved again: recorded once
            return Created(stored, replayed=True)
        recorded = TableEntry(entry_id, valid_from, value, actor.id, uow.now())
        uow.tax.add_table_entry(recorded)
        return Created(recorded)

    return in_transaction(uow_factory, work, actor=actor)


def run_approved_entry(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> Created[TableEntry] | Pending:
    return record_entry(
        uow_factory,
        actor,
        str(payload["id"]),
        date.fromisoformat(str(payload["valid_from"])),
        value_from_payload(payload),
    )
