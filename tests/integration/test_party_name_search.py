"""Parties searched by a part of their name, in SQL, on both databases: ignoring case, `%` and
`_` taken literally, within the reader's scope and with the other filters."""

from __future__ import annotations

from ledger.domain.access import Role
from ledger.domain.registry import Party, PartyKind
from ledger.persistence.store import Store
from ledger.services import parties
from tests.factories import actor
from tests.integration.registry_support import build_registry


def names(store: Store, role: Role, party: str | None, name: str) -> list[str]:
    found = parties.list_parties(
        store, actor(store, role, party), PartyKind.ENTERPRISE, None, None, 100, name=name
    )
    return [p.code for p in found.items]


def test_parties_are_found_by_a_part_of_their_name(store: Store) -> None:
    build_registry(store)
    registrar = actor(store, Role.REGULATOR, "HEBEI")
    for code, name, city in (
        ("S1", "Tangshan Steel No. 1", "Tangshan"),
        ("S2", "Xingtai STEEL 100% works", "Xingtai"),
        ("S3", "Glass_works", "Tangshan"),
    ):
        parties.register_party(store, registrar, Party(code, PartyKind.ENTERPRISE, name, city=city))
    assert names(store, Role.REGULATOR, "HEBEI", "steel") == ["S1", "S2"]
    assert names(store, Role.REGULATOR, "HEBEI", "100%") == ["S2"]
    assert names(store, Role.REGULATOR, "HEBEI", "l_n") == []  # `_` is no wildcard ("l n")
    assert names(store, Role.REGULATOR, "HEBEI", "glass_") == ["S3"]
    assert names(store, Role.CITY_AUTHORITY, "TANGSHAN", "steel") == ["S1"]  # its city only
    assert "E1" in names(store, Role.REGULATOR, "HEBEI", "")  # empty: no filter
