"""The CEMS import at scale: a year of hourly data for 20 outlets × 4 pollutants (700,800 rows),
imported into a fresh database of each backend; prints rows, seconds, rows/s and peak memory.

    .venv/bin/python -m bench.cems_import [--backends sqlite,postgresql] [--postgres URL]

The 20 outlets are the 14 demo outlets and 6 more like them; the 4 pollutants SO2, NOx, PM and
CO. The file is generated once (deterministic) into a temporary directory, then imported with the
CLI's own code path (`import_file`: one pass for the SHA-256, one streamed import). A second
import of the same file is timed too (a replay: found by its hash, nothing re-read).
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from bench.databases import fresh_database
from ledger.domain.access import Actor, FourEyesPolicy, Principal, PrincipalRecord, Role
from ledger.domain.pages import Created
from ledger.domain.permits import Permit
from ledger.domain.registry import Outlet, Party, PartyKind
from ledger.entrypoints import cems_generator
from ledger.entrypoints.monitoring import import_file
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import parties, permits

POLLUTANTS = ("SO2", "NOx", "PM", "CO")
OUTLETS = 20
YEAR = 2025


def outlets(count: int = OUTLETS) -> list[cems_generator.OutletSpec]:
    """The demo's 14 outlets and copies of the first 6 under other names (20 in all), or the
    first `count` of them."""
    demo = cems_generator.demo_outlets()
    extra = [dataclasses.replace(s, outlet=f"{s.outlet}-B") for s in demo[: OUTLETS - len(demo)]]
    return (demo + extra)[:count]


def register(store: Store, specs: list[cems_generator.OutletSpec], regulator: Actor) -> None:
    """The outlets' enterprises, the outlets and their permits, registered by the regulator
    (the benchmark's store runs without four eyes)."""
    for code in sorted({s.enterprise for s in specs}):
        party = Party(code, PartyKind.ENTERPRISE, code, city="Tangshan")
        parties.register_party(store, regulator, party)
    for s in specs:
        parties.add_outlet(store, regulator, Outlet(s.enterprise, s.outlet))
        permit = Permit(
            s.enterprise,
            s.outlet,
            date(YEAR, 1, 1),
            {p: Decimal(str(v)) for p, v in s.standard_mg_nm3.items()},
            None if s.reference_o2 is None else Decimal(str(s.reference_o2)),
        )
        assert isinstance(permits.set_permit(store, regulator, permit), Created)


def importer(store: Store) -> Actor:
    """A regulator registered in the benchmark's database: the registrations and imports are
    audited as its own."""
    record = PrincipalRecord(
        "bench", "bench", "service", Role.REGULATOR, None, True, datetime.now(UTC), None, "bench"
    )
    with store() as uow:
        uow.access.add_principal(record)
        uow.commit()
    return Actor(Principal(record.id, record.name, record.role, None, None))


def write_file(path: Path, specs: list[cems_generator.OutletSpec]) -> int:
    rows = -1
    with path.open("w", encoding="utf-8", newline="") as target:
        for line in cems_generator.generate(specs, YEAR, pollutants=POLLUTANTS):
            target.write(line)
            rows += 1
    return rows


def run(
    backend: str, postgres_url: str, path: Path, specs: list[cems_generator.OutletSpec], rows: int
) -> None:
    with fresh_database(backend, "cems", postgres_url) as database:
        engine = create_ledger_engine(database.url, sqlite_synchronous="NORMAL")
        store = Store(engine, four_eyes=FourEyesPolicy(frozenset()))
        try:
            actor = importer(store)
            register(store, specs, actor)
            started = time.perf_counter()
            assert import_file(store, path, actor) == 0
            seconds = time.perf_counter() - started
            replay_started = time.perf_counter()
            assert import_file(store, path, actor) == 0
            replay = time.perf_counter() - replay_started
        finally:
            store.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{backend:10} {rows:,} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s); "
        f"replay {replay:.2f} s; peak RSS so far {peak_mb:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--outlets", type=int, default=OUTLETS, help="fewer outlets: a smaller file (smoke runs)"
    )
    arguments = parser.parse_args()
    specs = outlets(arguments.outlets)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cems-2025.csv"
        rows = write_file(path, specs)
        print(f"generated {rows:,} rows ({path.stat().st_size / 1e6:.0f} MB)")
        for backend in arguments.backends.split(","):
            run(backend, arguments.postgres, path, specs, rows)


if __name__ == "__main__":
    main()
