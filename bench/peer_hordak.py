"""This ledger beside django-hordak, a Python double-entry ledger on PostgreSQL, in one run.

    make bench-peer            # creates .venv-bench with the `peer` extra, then runs this
    .venv-bench/bin/python -m bench.peer_hordak [--quick] [--rounds N] [--seconds S]

django-hordak is installed in the benchmark environment only (`pip install -e '.[peer]'` into
`.venv-bench`), never in the project's runtime or test dependencies. Django is configured
in-process (`settings.configure`) on a database this script creates on the local PostgreSQL
server and drops at the end; hordak's own migrations build its schema (triggers included). This
ledger writes to another fresh database migrated by Alembic (`bench.databases.fresh_database`).

The same transfers (one `Picker`, one seed: random pairs among the same number of holder accounts,
1–1,000 units of 0.001) go through both:
1. one transfer per commit: `journal.post_entry` vs `Account.transfer_to` (its own atomic block);
2. 100 transfers per commit: `journal.post_batch` vs 100 `transfer_to` in one `atomic()` (hordak's
   API), and also hordak's models bulk-created (`Transaction`/`Leg.objects.bulk_create`), the
   fastest way into its tables (its leg checks still run as deferred triggers at commit);
3. the balance of one account holding N postings (N = 10k, 100k, 1M; bulk-loaded on both sides):
   `queries.get_balance` (one balance row) vs hordak's `Account.objects.with_balances()` (its
   `GET_BALANCE` database function, the fast path) and `Account.get_balance()` (ORM sum).
One per commit is also run against the raw ceiling of the same guarantees: psycopg alone running
the ledger's own two statements (the ordered lock with the accounts' flags, then the one `WRITE`)
and the commit on the ledger's database, booking in plain Python (`bench.workloads`'
`PostgresRawWorker`, the raw side of `bench.transfers`): what the service layer's Python costs.
Throughput rounds alternate the sides (ABBA) and report medians; ratios are ledger / hordak (or
ledger / raw) for throughput and hordak time / ledger time for balance reads. The report is
printed and written to `bench/results/peer-hordak.txt`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from bench.config import DEFAULT_POSTGRES_URL, RESULTS_DIR
from bench.databases import BenchDatabase, conninfo, fresh_database, server_version
from bench.dataset import INSTRUMENT, READER, generate, holder_code, load
from bench.harness import RunResult, Worker, run_timed
from bench.workloads import Picker, PostgresRawWorker, ServiceWorker
from ledger.persistence.engine import create_ledger_engine, normalize_url
from ledger.persistence.store import Store
from ledger.services.queries import get_balance

CURRENCY = "CNY"  # hordak needs a currency; amounts keep the right's 3 decimal places
TARGETS = {"1 per commit": 1.5, "100 per commit": 5.0}
RAW_TARGET = 0.6  # the service layer against the raw driver doing the same SQL (issue 18)
RAW = "raw"  # `Comparison.against` of the raw-ceiling comparison


@dataclass(frozen=True, slots=True)
class Options:
    postgres_url: str
    accounts: int
    seconds: float
    warmup_seconds: float
    rounds: int
    sizes: tuple[int, ...]
    read_seconds: float
    seed: int
    output: Path


def parse(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.peer_hordak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="1 s rounds, postings up to 100k")
    parser.add_argument("--accounts", type=int, default=1_000, help="holder accounts per side")
    parser.add_argument("--seconds", type=float, help="length of one measured round (default 4)")
    parser.add_argument("--rounds", type=int, help="measured rounds per side and mode (default 4)")
    parser.add_argument(
        "--sizes", help="postings on the read account, e.g. 10000,100000,1000000 (the default)"
    )
    parser.add_argument("--read-seconds", type=float, default=2.0, help="timed reads per case")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LEDGER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server (and an existing database) where the bench databases are created/dropped",
    )
    parser.add_argument("--output", default=str(RESULTS_DIR / "peer-hordak.txt"))
    arguments = parser.parse_args(argv)
    quick = arguments.quick
    sizes = arguments.sizes or ("10000,100000" if quick else "10000,100000,1000000")
    return Options(
        postgres_url=arguments.postgres_url,
        accounts=arguments.accounts,
        seconds=arguments.seconds or (1.0 if quick else 4.0),
        warmup_seconds=0.3 if quick else 1.0,
        rounds=arguments.rounds or (2 if quick else 4),
        sizes=tuple(int(size) for size in sizes.split(",")),
        read_seconds=0.5 if quick else arguments.read_seconds,
        seed=arguments.seed,
        output=Path(arguments.output),
    )


# -- hordak, configured in-process -----------------------------------------------------------


@contextmanager
def hordak_database(postgres_url: str) -> Iterator[str]:
    """A fresh database on the server for hordak, dropped on the way out."""
    name = f"peer_hordak_{uuid.uuid4().hex[:8]}"
    admin = conninfo(postgres_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        _close_django()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _close_django() -> None:
    if "django.db" in sys.modules:
        from django.db import connections  # noqa: PLC0415 (Django only after configure)

        connections.close_all()


def setup_django(postgres_url: str, database: str) -> None:
    """settings.configure on `database`, then hordak's migrations."""
    import django  # noqa: PLC0415 (the benchmark environment only)
    from django.conf import settings  # noqa: PLC0415

    url = make_url(normalize_url(postgres_url))
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": database,
                "USER": url.username or "",
                "PASSWORD": url.password or "",
                "HOST": url.host or "",
                "PORT": str(url.port or 5432),
            }
        },
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "mptt",
            "djmoney",
            "hordak",
        ],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DEFAULT_CURRENCY=CURRENCY,
        HORDAK_INTERNAL_CURRENCY=CURRENCY,
        CURRENCIES=[CURRENCY],
        HORDAK_DECIMAL_PLACES=INSTRUMENT.scale,
    )
    django.setup()
    from django.core.management import call_command  # noqa: PLC0415

    call_command("migrate", verbosity=0)


def hordak_accounts(count: int) -> list[Any]:
    """`count` holder accounts (hordak opens one account per create: MPTT, triggers, reload)."""
    from hordak.models import Account, AccountType  # noqa: PLC0415

    return [
        Account.objects.create(name=holder_code(index), type=AccountType.liability, code=None)
        for index in range(count)
    ]


_AMOUNTS: dict[int, Any] = {}


def _money(units: int) -> Any:
    from moneyed import Money  # noqa: PLC0415

    money = _AMOUNTS.get(units)
    if money is None:
        money = _AMOUNTS[units] = Money(Decimal(units).scaleb(-INSTRUMENT.scale), CURRENCY)
    return money


class HordakWorker:
    """Transfers through hordak: debit the source, credit the destination (like the ledger's)."""

    def __init__(self, accounts: Sequence[Any], picker: Picker, batch: int, *, bulk: bool) -> None:
        self.retries = 0
        self._accounts = accounts
        self._picker = picker
        self._batch = batch
        self._bulk = bulk

    def step(self) -> int:
        from django.db import transaction  # noqa: PLC0415

        transfers = [self._picker() for _ in range(self._batch)]
        accounts = self._accounts
        if self._batch == 1:
            source, destination, units = transfers[0]
            # transfer_to credits self and debits the account given; its own atomic block.
            accounts[destination].transfer_to(accounts[source], _money(units))
        elif not self._bulk:
            with transaction.atomic():
                for source, destination, units in transfers:
                    accounts[destination].transfer_to(accounts[source], _money(units))
        else:
            from hordak.models import Leg, Transaction  # noqa: PLC0415

            with transaction.atomic():
                created = Transaction.objects.bulk_create([Transaction() for _ in transfers])
                Leg.objects.bulk_create(
                    leg
                    for record, (source, destination, units) in zip(created, transfers, strict=True)
                    for leg in (
                        Leg(transaction=record, account=accounts[source], debit=_money(units)),
                        Leg(
                            transaction=record, account=accounts[destination], credit=_money(units)
                        ),
                    )
                )
        return self._batch

    def close(self) -> None:
        from django.db import connection  # noqa: PLC0415

        connection.close()


# -- throughput --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    mode: str
    peer: str  # how the other side was driven
    ledger: list[RunResult]
    other: list[RunResult]  # hordak's rounds, or the raw driver's
    against: str = "hordak"  # or RAW

    @property
    def ledger_rate(self) -> float:
        return statistics.median(run.rate for run in self.ledger)

    @property
    def other_rate(self) -> float:
        return statistics.median(run.rate for run in self.other)

    @property
    def ratio(self) -> float:
        return self.ledger_rate / self.other_rate if self.other_rate else float("inf")


def compare(  # noqa: PLR0917 - the two sides and what they are
    mode: str,
    peer: str,
    make_ledger: Callable[[int], Worker],
    make_other: Callable[[int], Worker],
    options: Options,
    against: str = "hordak",
) -> Comparison:
    """Warm both sides up, then alternate measured rounds: L O O L L O …"""
    run_timed(make_ledger, 1, options.warmup_seconds)
    run_timed(make_other, 1, options.warmup_seconds)
    ledger: list[RunResult] = []
    other: list[RunResult] = []
    for round_ in range(options.rounds):
        sides = [(make_ledger, ledger), (make_other, other)]
        for make, runs in sides if round_ % 2 == 0 else reversed(sides):
            runs.append(run_timed(make, 1, options.seconds)[0])
        print(
            f"  {mode} ({peer}) round {round_ + 1}: ledger {ledger[-1].rate:,.0f} tx/s, "
            f"{against} {other[-1].rate:,.0f} tx/s",
            file=sys.stderr,
            flush=True,
        )
    return Comparison(mode, peer, ledger, other, against)


def throughput(database: BenchDatabase, options: Options) -> list[Comparison]:
    """Both ledgers with `options.accounts` holders; each mode on fresh picks of one seed."""
    print(f"funding {options.accounts} holders on both sides", file=sys.stderr, flush=True)
    load(database.backend, database.raw, generate(options.accounts, 0, 0, options.seed))
    accounts = hordak_accounts(options.accounts)
    store = Store(create_ledger_engine(database.url))
    counter = iter(range(1_000_000))
    try:

        def ledger(batch: int) -> Callable[[int], Worker]:
            def make(_: int) -> Worker:
                run = next(counter)
                picker = Picker(options.accounts, hot=False, seed=options.seed + run)
                return ServiceWorker(store, picker, f"peer-{run}-", batch)

            return make

        def hordak(batch: int, *, bulk: bool = False) -> Callable[[int], Worker]:
            def make(_: int) -> Worker:
                picker = Picker(options.accounts, hot=False, seed=options.seed + next(counter))
                return HordakWorker(accounts, picker, batch, bulk=bulk)

            return make

        def raw(_: int) -> Worker:
            run = next(counter)
            picker = Picker(options.accounts, hot=False, seed=options.seed + run)
            return PostgresRawWorker(database.raw, picker, f"peer-raw-{run}-", 1)

        return [
            compare("1 per commit", "transfer_to", ledger(1), hordak(1), options),
            compare("1 per commit", "psycopg, the ledger's SQL", ledger(1), raw, options, RAW),
            compare(
                "100 per commit", "transfer_to x100 in atomic()", ledger(100), hordak(100), options
            ),
            compare("100 per commit", "bulk_create", ledger(100), hordak(100, bulk=True), options),
        ]
    finally:
        store.dispose()


# -- balance reads ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reads:
    postings: int
    ledger_ms: float  # p50 of get_balance
    hordak_function_ms: float  # p50 of Account.objects.with_balances() (GET_BALANCE)
    hordak_orm_ms: float  # p50 of Account.get_balance()
    calls: tuple[int, int, int]


def _p50(call: Callable[[], object], seconds: float, minimum: int = 5) -> tuple[float, int]:
    for _ in range(3):  # warm caches and plans
        call()
    timings: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(timings) < minimum or (time.perf_counter() < deadline and len(timings) < 5_000):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), len(timings)


HORDAK_BULK_LEGS = """
WITH tx AS (
    INSERT INTO hordak_transaction (uuid, "timestamp", date, description)
    SELECT gen_random_uuid(), now(), current_date, 'load' FROM generate_series(1, %(count)s)
    RETURNING id
)
INSERT INTO hordak_leg (uuid, description, account_id, transaction_id, credit, debit, currency)
SELECT gen_random_uuid(), '', leg.account_id, tx.id, leg.credit, leg.debit, %(currency)s
FROM tx, LATERAL (SELECT ((tx.id * 7919) %% 1000 + 1) / 1000.0 AS amount) AS a,
LATERAL (VALUES
    (%(hot)s::bigint, CASE WHEN tx.id %% 2 = 0 THEN a.amount END,
                      CASE WHEN tx.id %% 2 = 1 THEN a.amount END),
    (%(other)s::bigint, CASE WHEN tx.id %% 2 = 1 THEN a.amount END,
                        CASE WHEN tx.id %% 2 = 0 THEN a.amount END)
) AS leg(account_id, credit, debit)
"""


def hordak_read_account(postings: int) -> tuple[Any, float]:
    """A hordak account with `postings` legs (and their counterparts on another), bulk-loaded
    in SQL with its triggers off for the load (as a restore would); seconds taken."""
    from django.db import connection  # noqa: PLC0415
    from hordak.models import Account, AccountType  # noqa: PLC0415

    hot = Account.objects.create(name=f"HOT-{postings}", type=AccountType.liability)
    other = Account.objects.create(name=f"OTHER-{postings}", type=AccountType.liability)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            HORDAK_BULK_LEGS,
            {"count": postings, "currency": CURRENCY, "hot": hot.pk, "other": other.pk},
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE hordak_leg")
        cursor.execute("ANALYZE hordak_transaction")
    return hot, time.perf_counter() - started


def _with_balances(model: Any, pk: int) -> Any:
    return model.objects.with_balances().get(pk=pk).balance


def balance_reads(postgres_url: str, options: Options) -> list[Reads]:
    from hordak.models import Account  # noqa: PLC0415

    results = []
    for size in options.sizes:
        print(
            f"balance reads: loading {size:,} postings on one account, each side",
            file=sys.stderr,
            flush=True,
        )
        hot, hordak_load = hordak_read_account(size)
        # The ledger's hot account: its funding posting and `size - 1` transfers.
        data = generate(3, size - 1, size - 1, options.seed)
        with fresh_database("postgresql", "peer_reads", postgres_url) as database:
            ledger_load = load(database.backend, database.raw, data)
            store = Store(create_ledger_engine(database.url))
            try:
                code = holder_code(0)
                expected = data.counters[data.hot_id]
                found = get_balance(store, READER, code, INSTRUMENT.code).balance
                assert (found.debits_posted, found.credits_posted) == tuple(expected[:2])
                ledger_ms, ledger_calls = _p50(
                    partial(get_balance, store, READER, code, INSTRUMENT.code), options.read_seconds
                )
            finally:
                store.dispose()
        function_ms, function_calls = _p50(
            partial(_with_balances, Account, hot.pk), options.read_seconds
        )
        orm_ms, orm_calls = _p50(hot.get_balance, options.read_seconds)
        print(
            f"  {size:,} postings: load ledger {ledger_load:.1f} s, hordak {hordak_load:.1f} s;"
            f" p50 ledger {ledger_ms:.3f} ms, hordak {function_ms:.3f} / {orm_ms:.3f} ms",
            file=sys.stderr,
            flush=True,
        )
        results.append(
            Reads(size, ledger_ms, function_ms, orm_ms, (ledger_calls, function_calls, orm_calls))
        )
    return results


# -- report ----------------------------------------------------------------------------------


def report(
    options: Options, comparisons: Sequence[Comparison], reads: Sequence[Reads], seconds: float
) -> str:
    import django  # noqa: PLC0415
    import hordak  # noqa: PLC0415

    hordak_version = getattr(hordak, "__version__", None) or _version("django-hordak")
    lines = [
        "Peer benchmark: this ledger (service layer) vs django-hordak, same PostgreSQL, same run",
        "",
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"machine: {os.cpu_count()} cores, {platform.platform()}",
        f"python {platform.python_version()}, PostgreSQL {server_version(options.postgres_url)},"
        f" Django {django.get_version()}, django-hordak {hordak_version}",
        f"throughput: {options.rounds} rounds x {options.seconds:g} s per side and mode"
        f" (alternating, median), one writer, {options.accounts:,} holder accounts per side",
        "",
        f"{'mode':<16} {'hordak driven by':<30} {'ledger tx/s':>11} {'hordak tx/s':>11}"
        f" {'ledger/hordak':>13}  target",
        "-" * 92,
    ]
    for c in comparisons:
        if c.against == RAW:
            continue
        target = TARGETS[c.mode] if c.peer != "bulk_create" else None
        verdict = (
            ""
            if target is None
            else f"  >= {target:g}x " + ("met" if c.ratio >= target else "NOT met")
        )
        lines.append(
            f"{c.mode:<16} {c.peer:<30} {c.ledger_rate:>11,.0f} {c.other_rate:>11,.0f}"
            f" {c.ratio:>12.2f}x{verdict}"
        )
    lines += _raw_ceiling([c for c in comparisons if c.against == RAW])
    lines += ["", "rounds (tx/s):"]
    for c in comparisons:
        ledger = ", ".join(f"{run.rate:,.0f}" for run in c.ledger)
        other = ", ".join(f"{run.rate:,.0f}" for run in c.other)
        lines.append(f"  {c.mode} / {c.peer}: ledger [{ledger}]  {c.against} [{other}]")
    if reads:
        lines += [
            "",
            "Balance of one account holding N postings (p50 ms; hordak sums its legs per read)",
            f"{'postings':>10} {'ledger':>9} {'hordak GET_BALANCE':>19}"
            f" {'hordak get_balance()':>21} {'hordak/ledger':>14}",
            "-" * 78,
        ]
        for r in reads:
            fastest = min(r.hordak_function_ms, r.hordak_orm_ms)
            lines.append(
                f"{r.postings:>10,} {r.ledger_ms:>9.3f} {r.hordak_function_ms:>19.3f}"
                f" {r.hordak_orm_ms:>21.3f} {fastest / r.ledger_ms:>13.0f}x"
            )
        first, last = reads[0], reads[-1]
        growth = last.postings / first.postings
        lines.append(
            f"growth from {first.postings:,} to {last.postings:,} postings ({growth:,.0f}x):"
            f" ledger {last.ledger_ms / first.ledger_ms:.2f}x,"
            f" hordak {last.hordak_function_ms / first.hordak_function_ms:,.1f}x"
            f" (GET_BALANCE) / {last.hordak_orm_ms / first.hordak_orm_ms:,.1f}x (get_balance())"
        )
    lines += ["", f"total time {seconds:.0f} s"]
    return "\n".join(lines) + "\n"


def _raw_ceiling(comparisons: Sequence[Comparison]) -> list[str]:
    """The ledger against the raw driver running its own SQL: the ceiling of the same
    guarantees (ordered locks, flags, limits, running balances, the commit's fsync)."""
    if not comparisons:
        return []
    lines = [
        "",
        "Against the raw ceiling of the same guarantees: psycopg alone running the ledger's own",
        "statements (ordered lock with the flags, then the one WRITE) and COMMIT, booking in plain",
        "Python (bench.workloads.PostgresRawWorker), on the ledger's database",
        f"{'mode':<16} {'raw side':<30} {'ledger tx/s':>11} {'raw tx/s':>11}"
        f" {'ledger/raw':>13}  target",
        "-" * 92,
    ]
    for c in comparisons:
        verdict = f"  >= {RAW_TARGET:g} " + ("met" if c.ratio >= RAW_TARGET else "NOT met")
        lines.append(
            f"{c.mode:<16} {c.peer:<30} {c.ledger_rate:>11,.0f} {c.other_rate:>11,.0f}"
            f" {c.ratio:>13.2f}{verdict}"
        )
    return lines


def _version(distribution: str) -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return version(distribution)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    started = time.perf_counter()
    try:
        import hordak  # noqa: F401, PLC0415
    except ImportError:
        print(
            "django-hordak is not installed here: run `make bench-peer` (it installs the "
            "`peer` extra into .venv-bench)",
            file=sys.stderr,
        )
        return 2
    with hordak_database(options.postgres_url) as name:
        setup_django(options.postgres_url, name)
        with fresh_database("postgresql", "peer", options.postgres_url) as database:
            comparisons = throughput(database, options)
        reads = balance_reads(options.postgres_url, options)
    text = report(options, comparisons, reads, time.perf_counter() - started)
    print(text, end="")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
