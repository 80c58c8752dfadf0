"""HTTP load on a real server process (loopback only): throughput and p50/p99 latency per
operation, for the full API and for a bare FastAPI endpoint doing the same SQL.

    .venv/bin/python -m bench.load [--database sqlite|postgresql|both] [--workers 1,2]
                                   [--seconds 10] [--concurrency 16] [--quick] [--profile]
                                   [--sweep-seconds 5] [--sweeper thread|process]

Per database, a fresh database is seeded through the services (`bench.live.seed`: the demo's
parties and rights, 1,000 funded holder accounts, a principal and token per role), then for each
uvicorn worker count each scenario runs against a freshly started server:
- `transfers`: POST /v1/entries only (a regulator's bearer token, a client-chosen entry id, two
  postings between random holders): the full API, authentication and validation included;
- `mix`: 50 % transfers, 40 % balance reads (half a regulator reading a holder, half an
  enterprise reading its own holdings), 10 % trade workflow steps (each virtual user's trade
  goes propose by the seller → accept by the buyer → record by the regulator);
- `trades`: the trade workflow alone (every request a trade step, as in `mix`): what the
  workflow sustains, and its latency, when nothing else competes;
- `bare`: POST /transfer of `bench.bare_baseline` (same SQL, raw driver, no auth/audit/services).
`--concurrency` virtual users (asyncio + aiohttp, one process) each send one request at a
time (closed loop) for `--seconds` after `--warmup-seconds`. With `--think-ms T` each user
waits a random time (exponential, mean T ms) between an answer and its next request, as people
at a desk do: the latency of a registry in use rather than of one driven to saturation (closed
loop without thinking, every run saturates the machine and latency is queueing: by Little's
law, users / throughput). The client shares the machine's cores with the server and the
database: its CPU use is reported beside the figures. `--sweep-seconds` sets the server's
sweeper round (5 s; 3600: none during a run, to see what sealing and expiries cost the others'
latency); `--sweeper process` runs the sweeper as `emissions-ledger sweep` in a process of its own
beside servers without their sweeper thread (its CPU is reported apart). `--profile` also samples
the 1-worker API server with py-spy during a `transfers` run and prints where its time goes.
The summary is printed and written to bench/results/load-latest.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import timeline as timeline_module
from bench.config import DEFAULT_POSTGRES_URL, RESULTS_DIR
from bench.databases import fresh_database
from bench.live import (
    TRANSFER_INSTRUMENT,
    Seeded,
    ServerProcess,
    SweeperProcess,
    enterprise_principal,
    seed,
)

SCENARIOS = ("transfers", "mix", "bare")  # the default; `trades` on request
# E01 and E08 both sell and buy: every trade also credits the exchange's fee account, so this
# mix deadlocked on PostgreSQL until an acceptance locked all its balances at once.
TRADE_PAIRS = (("E01", "E06"), ("E07", "E08"), ("E02", "E04"), ("E08", "E01"))
HOLDERS = 1_000
TRANSFER_UNITS_MAX = 1_000
TARGET_RATIO = 0.75  # of the bare endpoint's, on both databases (issue 18)
# Issue 18: trade steps in the mix at concurrency 16 on PostgreSQL (p50, p99 in ms).
TARGET_TRADE_STEP_MS = (20.0, 100.0)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ACCEPTED = 202  # four-eyes: an approval request instead of the write the benchmark times


@dataclass
class Recorder:
    """Latencies (seconds) per operation, every non-2xx answer, and every 5xx or 202 (warm-up
    too: either fails the run, so a smoke run cannot pass over a broken endpoint, nor over a
    write that became an approval request and would time no write at all)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    measuring: bool = False
    measuring_marker: Path | None = None  # created when the measured seconds begin

    def record(self, operation: str, seconds: float, status: int, body: bytes) -> None:
        if status >= 500:
            self.server_errors[f"{operation} {status} {body[:120]!r}"] += 1
        elif status == ACCEPTED:
            self.server_errors[f"{operation} 202: an approval request, not a write"] += 1
        if not self.measuring:
            return
        if 200 <= status < 300:
            self.latencies[operation].append(seconds)
        else:
            self.errors[f"{operation} {status} {body[:120]!r}"] += 1


@dataclass(frozen=True, slots=True)
class Row:
    """One operation's figures in one run."""

    database: str
    server: str  # api | bare
    workers: int
    scenario: str
    operation: str
    count: int
    per_second: float
    p50_ms: float
    p99_ms: float


@dataclass
class RunResult:
    label: str  # database, scenario, workers
    rows: list[Row]
    errors: Counter[str]
    server_errors: Counter[str]
    seconds: float
    client_cpu: float  # share of one core
    server_cpu: float  # share of one core, all server processes
    sweeper_cpu: float | None  # share of one core, the sweeper's own process (if it has one)
    machine_busy: float  # share of all cores, whole machine
    timeline: list[str] = field(default_factory=list)  # `--timeline`'s table, if asked


# -- the virtual users ---------------------------------------------------------------------------


class User:
    """One closed-loop virtual user: picks an operation, sends it, waits for the answer."""

    def __init__(self, number: int, seeded: Seeded, scenario: str, run: str) -> None:
        self.rng = random.Random(f"{run}-{number}")
        self.seeded = seeded
        self.scenario = scenario
        self.prefix = f"ld{run}-{number}-"
        self.sequence = 0
        self.trade: tuple[str, str, str, int] | None = None  # id, seller, buyer, next step

    def next_request(self) -> tuple[str, str, str, dict[str, str], Any]:
        """(operation, method, path, headers, json body)."""
        if self.scenario == "bare":
            return self._transfer(bare=True)
        if self.scenario == "transfers":
            return self._transfer(bare=False)
        if self.scenario == "trades":
            return self._trade_step()
        draw = self.rng.random()
        if draw < 0.5:
            return self._transfer(bare=False)
        if draw < 0.9:
            return self._read(draw < 0.7)
        return self._trade_step()

    def _id(self) -> str:
        self.sequence += 1
        return f"{self.prefix}{self.sequence}"

    def _transfer(self, *, bare: bool) -> tuple[str, str, str, dict[str, str], Any]:
        source, destination = self.rng.sample(self.seeded.holders, 2)
        units = self.rng.randint(1, TRANSFER_UNITS_MAX)
        if bare:
            body = {
                "entry_id": self._id(),
                "source": source,
                "destination": destination,
                "units": units,
            }
            return "transfer (bare)", "POST", "/transfer", {}, body
        amount = str(TRANSFER_INSTRUMENT.to_amount(units))
        code = TRANSFER_INSTRUMENT.code
        body = {
            "entry_id": self._id(),
            "entry_type": "transfer",
            "postings": [
                {"account": source, "instrument": code, "side": "debit", "amount": amount},
                {"account": destination, "instrument": code, "side": "credit", "amount": amount},
            ],
        }
        return "transfer", "POST", "/v1/entries", self.seeded.headers("load-regulator"), body

    def _read(self, holder: bool) -> tuple[str, str, str, dict[str, str], Any]:
        if holder:
            account = self.rng.choice(self.seeded.holders)
            path = f"/v1/accounts/{account}/balances/{TRANSFER_INSTRUMENT.code}"
            return "balance read", "GET", path, self.seeded.headers("load-regulator"), None
        seller, _ = self.rng.choice(TRADE_PAIRS)
        path = f"/v1/accounts/{seller}:holdings/balances/SO2-2026"
        headers = self.seeded.headers(enterprise_principal(seller))
        return "balance read (enterprise)", "GET", path, headers, None

    def _trade_step(self) -> tuple[str, str, str, dict[str, str], Any]:
        if self.trade is None:
            seller, buyer = self.rng.choice(TRADE_PAIRS)
            self.trade = (self._id(), seller, buyer, 0)
        trade_id, seller, buyer, step = self.trade
        self.trade = None if step == 2 else (trade_id, seller, buyer, step + 1)
        if step == 0:
            body = {
                "id": trade_id,
                "seller": seller,
                "buyer": buyer,
                "family": self.rng.choice(("SO2", "NOx")),
                "quantity": "0.001",
                "price_cny_per_t": "6200",
                "trade_date": "2026-01-15",
            }
            headers = self.seeded.headers(enterprise_principal(seller))
            return "trade propose", "POST", "/v1/trades", headers, body
        if step == 1:
            headers = self.seeded.headers(enterprise_principal(buyer))
            return "trade accept", "POST", f"/v1/trades/{trade_id}/accept", headers, {}
        headers = self.seeded.headers("load-regulator")
        return "trade record", "POST", f"/v1/trades/{trade_id}/record", headers, {}


async def _drive(  # noqa: PLR0917 - one user's loop
    user: User,
    session: aiohttp.ClientSession,
    base: str,
    recorder: Recorder,
    deadline: float,
    think_seconds: float,
) -> None:
    while time.perf_counter() < deadline:
        if think_seconds:
            await asyncio.sleep(user.rng.expovariate(1 / think_seconds))
        operation, method, path, headers, body = user.next_request()
        began = time.perf_counter()
        async with session.request(method, base + path, headers=headers, json=body) as response:
            payload = await response.read()
        recorder.record(operation, time.perf_counter() - began, response.status, payload)
        if response.status >= 300 and operation.startswith("trade"):
            user.trade = None  # start a new trade rather than act on a refused one


async def _load(  # noqa: PLR0917 - one run's knobs
    base: str,
    users: list[User],
    recorder: Recorder,
    warmup: float,
    seconds: float,
    think_seconds: float,
) -> float:
    connector = aiohttp.TCPConnector(limit=len(users), limit_per_host=len(users))
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        deadline = start + warmup + seconds

        async def switch_on() -> float:
            await asyncio.sleep(warmup)
            recorder.measuring = True
            if recorder.measuring_marker is not None:
                recorder.measuring_marker.touch()
            return time.perf_counter()

        measured_from = asyncio.create_task(switch_on())
        await asyncio.gather(
            *(_drive(u, session, base, recorder, deadline, think_seconds) for u in users)
        )
        return time.perf_counter() - await measured_from


# -- CPU accounting ------------------------------------------------------------------------------


def _group_cpu_seconds(group: int) -> float:
    """User + system CPU of every live process in a process group."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group:
                total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# -- one run -------------------------------------------------------------------------------------


def run_once(  # noqa: PLR0917 - one run's knobs
    seeded: Seeded,
    database: str,
    scenario: str,
    workers: int,
    config: argparse.Namespace,
    log: Path,
    run: str,
) -> RunResult:
    app = "bench.bare_baseline:app" if scenario == "bare" else config.api_app
    own_sweeper = config.sweeper == "process"
    timeline = log.with_suffix(".timeline") if config.timeline and scenario != "bare" else None
    if timeline is not None:
        timeline.mkdir()
        app = "bench.timeline:app"
    server = ServerProcess(
        seeded.database_url,
        log,
        workers=workers,
        app=app,
        sweep_seconds=config.sweep_seconds,
        sweeper_thread=not own_sweeper,
        environment={timeline_module.DIRECTORY_VARIABLE: str(timeline)} if timeline else {},
    )
    sweeper = SweeperProcess(
        seeded.database_url, log.with_suffix(".sweeper.log"), config.sweep_seconds
    )
    try:
        if own_sweeper:
            sweeper.start()
        server.start()
        pid = server.pid
        assert pid is not None
        users = [User(n, seeded, scenario, run) for n in range(config.concurrency)]
        recorder = Recorder(
            measuring_marker=timeline / timeline_module.MEASURING if timeline else None
        )
        cpu_before = _group_cpu_seconds(pid)
        sweeper_before = _group_cpu_seconds(sweeper.pid) if sweeper.pid else 0.0
        busy_before = _machine_ticks()
        client_before = time.process_time()
        profile = None
        if config.profile and scenario == "transfers" and workers == 1:
            profile = _start_profiler(pid, config.warmup_seconds, config.seconds, log.parent)
        elapsed = asyncio.run(
            _load(
                server.base_url,
                users,
                recorder,
                config.warmup_seconds,
                config.seconds,
                config.think_ms / 1000,
            )
        )
        client_cpu = (time.process_time() - client_before) / (
            config.warmup_seconds + config.seconds
        )
        server_cpu = (_group_cpu_seconds(pid) - cpu_before) / (
            config.warmup_seconds + config.seconds
        )
        sweeper_cpu = (
            (_group_cpu_seconds(sweeper.pid) - sweeper_before)
            / (config.warmup_seconds + config.seconds)
            if sweeper.pid
            else None
        )
        busy_after = _machine_ticks()
        if profile is not None:
            _report_profile(*profile)
    finally:
        server.stop()
        sweeper.stop()
    busy = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
    rows = []
    for operation, samples in sorted(recorder.latencies.items()):
        ordered = sorted(samples)
        rows.append(
            Row(
                database,
                "bare" if scenario == "bare" else "api",
                workers,
                scenario,
                operation,
                len(ordered),
                len(ordered) / elapsed,
                _percentile(ordered, 0.50) * 1000,
                _percentile(ordered, 0.99) * 1000,
            )
        )
    label = f"{database} {scenario} workers={workers}"
    timed = timeline_module.merge(timeline.glob("timeline-*.json")) if timeline else {}
    if timeline is not None and not timed:  # a broken tool, not a quiet server: fail the run
        recorder.server_errors["--timeline timed no locked write"] += 1
    return RunResult(
        label,
        rows,
        recorder.errors,
        recorder.server_errors,
        elapsed,
        client_cpu,
        server_cpu,
        sweeper_cpu,
        busy,
        timeline_module.report(timed) if timeline else [],
    )


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- profiling (py-spy) --------------------------------------------------------------------------

# Where the server's time goes: the first bucket whose marker appears in a sampled stack counts it
# (inclusive, so nested ones are listed first).
BUCKETS = (
    ("audit (access.record_audit / append_audit)", ("record_audit", "append_audit")),
    ("authentication (api/auth.py)", ("api/auth.py",)),
    ("database driver (psycopg, sqlite3)", ("psycopg/", "sqlite3/")),
    ("SQLAlchemy (core, pool)", ("sqlalchemy/",)),
    ("ledger services + domain + persistence", ("ledger/",)),
    (
        "request validation and response serialisation (pydantic, fastapi)",
        (
            "pydantic",
            "fastapi/routing.py",
            "fastapi/dependencies",
            "fastapi/encoders",
            "api/schemas.py",
            "api/convert.py",
        ),
    ),
    ("HTTP server (uvicorn, h11, starlette, asyncio)", ("uvicorn", "h11", "starlette", "asyncio")),
)


def _start_profiler(
    pid: int, warmup: float, seconds: float, directory: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    output = directory / "profile.txt"
    command = [
        str(Path(sys.executable).with_name("py-spy")),
        "record",
        "--pid",
        str(pid),
        "--rate",
        "250",
        "--duration",
        str(max(1, int(seconds))),
        "--format",
        "raw",
        "--output",
        str(output),
        "--nonblocking",
        "--gil",
    ]

    delayed_start = ["sh", "-c", f'sleep {warmup} && exec "$0" "$@"', *command]
    process = subprocess.Popen(delayed_start, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return process, output


def _report_profile(process: subprocess.Popen[bytes], output: Path) -> None:
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
    if not output.exists():
        stderr = process.stderr.read().decode() if process.stderr else ""
        print(f"  profile: py-spy wrote nothing ({stderr.strip()[:200]})")
        return
    buckets: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for line in output.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        buckets[
            next((name for name, markers in BUCKETS if any(m in stack for m in markers)), "other")
        ] += count
        functions[frames[-1].split(" (")[0] + " (" + frames[-1].rsplit("/", 1)[-1]] += count
    print(f"  profile of the 1-worker API server ({total} samples; first matching bucket wins):")
    for name, count in buckets.most_common():
        print(f"    {100 * count / max(1, total):5.1f} %  {name}")
    print("  top functions by own time:")
    for name, count in functions.most_common(12):
        print(f"    {100 * count / max(1, total):5.1f} %  {name[:110]}")


# -- the whole run -------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts, e.g. 1,2")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean think time between a user's requests (exponential); 0: closed loop",
    )
    parser.add_argument("--holders", type=int, default=HOLDERS, help="funded holder accounts")
    parser.add_argument(
        "--sweep-seconds",
        type=float,
        default=5.0,
        help="the server's sweeper round (sealing the hash chain, expiries)",
    )
    parser.add_argument(
        "--sweeper",
        choices=("thread", "process"),
        default="thread",
        help="thread: each server process runs its sweeper thread (the default deployment); "
        "process: `emissions-ledger sweep` sweeps in a process of its own",
    )
    parser.add_argument("--quick", action="store_true", help="3 s runs after 1 s of warm-up")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the 1-worker API server during its transfers run",
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("LEDGER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    parser.add_argument(
        "--api-app",
        default="api.main:app",
        help="the ASGI app uvicorn serves for the API scenarios",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="PostgreSQL only: time each locked write's statements in the server "
        "(`bench.timeline`) and print where its locked time goes",
    )
    parser.add_argument("--output", default=str(RESULTS_DIR / "load-latest.txt"))
    arguments = parser.parse_args(argv)
    if arguments.timeline and arguments.database != "postgresql":
        parser.error("--timeline times psycopg's statements: --database postgresql")
    if arguments.quick:
        arguments.seconds, arguments.warmup_seconds = 3.0, 1.0
    arguments.worker_counts = [int(n) for n in arguments.workers.split(",")]
    arguments.scenario_list = [s for s in arguments.scenarios.split(",") if s]
    arguments.databases = (
        ("postgresql", "sqlite") if arguments.database == "both" else (arguments.database,)
    )
    return arguments


@contextlib.contextmanager
def _seeded(database: str, postgres_url: str, holders: int) -> Iterator[Seeded]:
    with fresh_database(database, "load", postgres_url) as target:
        began = time.perf_counter()
        seeded = seed(target.url, holders=holders)
        print(
            f"{database}: seeded {holders} holders in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
        yield seeded


def main(argv: Sequence[str] | None = None) -> int:
    config = parse(argv)
    thinking = f"thinking {config.think_ms:g} ms on average, " if config.think_ms else ""
    lines = [
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}; machine: {os.cpu_count()} cores,"
        f" {platform.platform()}; python {platform.python_version()}",
        f"load: {config.concurrency} closed-loop users (aiohttp, one process), {thinking}"
        f"{config.seconds:g} s measured after {config.warmup_seconds:g} s warm-up, fresh server "
        f"per run, uvicorn without access log; sweeper: {config.sweeper}, a round every "
        f"{config.sweep_seconds:g} s",
    ]
    print("\n".join(lines), flush=True)
    results: list[RunResult] = []
    run = 0
    with tempfile.TemporaryDirectory(prefix="ledger_load_") as directory:
        for database in config.databases:
            with _seeded(database, config.postgres_url, config.holders) as seeded:
                for workers in config.worker_counts:
                    for scenario in config.scenario_list:
                        run += 1
                        log = Path(directory) / f"server-{run}.log"
                        result = run_once(
                            seeded, database, scenario, workers, config, log, str(run)
                        )
                        results.append(result)
                        _print_run(result)
    summary = _summary(results, config)
    print("\n".join(summary))
    Path(config.output).parent.mkdir(parents=True, exist_ok=True)
    Path(config.output).write_text("\n".join(lines + summary) + "\n")
    print(f"written to {config.output}")
    broken = [(r.label, e, n) for r in results for e, n in r.server_errors.items()]
    for label, error, count in broken:
        print(f"server error in {label}: {count} x {error}", file=sys.stderr)
    return 1 if broken else 0


def _transfers_per_second(
    results: list[RunResult], database: str, scenario: str, workers: int
) -> float | None:
    found = [
        row.per_second
        for result in results
        for row in result.rows
        if (row.database, row.scenario, row.workers) == (database, scenario, workers)
        and row.operation.startswith("transfer")
    ]
    return found[0] if found else None


def _ratios(results: list[RunResult], database: str, worker_counts: list[int]) -> list[str]:
    """Full API against the bare endpoint, per worker count and best against best."""
    lines = []
    best_api = best_bare = 0.0
    for workers in worker_counts:
        api = _transfers_per_second(results, database, "transfers", workers)
        bare = _transfers_per_second(results, database, "bare", workers)
        if api is None or bare is None:
            continue
        best_api, best_bare = max(best_api, api), max(best_bare, bare)
        lines.append(
            f"{database} {workers} worker(s): full API {api:,.0f} transfers/s, bare "
            f"endpoint {bare:,.0f}/s, ratio {api / bare:.2f}"
        )
    if best_api and best_bare:
        met = best_api / best_bare >= TARGET_RATIO
        lines.append(
            f"{database} best: full API {best_api:,.0f} transfers/s, bare "
            f"{best_bare:,.0f}/s, ratio {best_api / best_bare:.2f} (target >= {TARGET_RATIO:g}: "
            f"{'met' if met else 'NOT met'})"
        )
    return lines


def _trade_steps(results: list[RunResult], config: argparse.Namespace) -> list[str]:
    """Each run's trade steps together: their rate, and each step's p50 and p99 against
    issue 18's target (which is set on PostgreSQL at 16 users)."""
    lines = []
    p50_target, p99_target = TARGET_TRADE_STEP_MS
    for result in results:
        steps = [row for row in result.rows if row.operation.startswith("trade")]
        if not steps:
            continue
        met = all(r.p50_ms < p50_target and r.p99_ms < p99_target for r in steps)
        worst = max(steps, key=lambda r: r.p99_ms)
        lines.append(
            f"{result.label}: trade steps {sum(r.per_second for r in steps):,.0f}/s, worst p50 "
            f"{max(r.p50_ms for r in steps):.1f} ms, worst p99 {worst.p99_ms:.1f} ms "
            f"({worst.operation})"
            f"; p50 < {p50_target:g} ms and p99 < {p99_target:g} ms at {config.concurrency} users: "
            f"{'met' if met else 'NOT met'}"
        )
    return lines


def _sweeper_cpu(result: RunResult) -> str:
    if result.sweeper_cpu is None:
        return ""
    return f"sweeper process {result.sweeper_cpu:.0%} of a core, "


def _print_run(result: RunResult) -> None:
    total = sum(row.per_second for row in result.rows)
    print(
        f"  {result.label}: {total:,.0f} req/s; CPU: client "
        f"{result.client_cpu:.0%} of a core, server {result.server_cpu:.0%} of a core, "
        f"{_sweeper_cpu(result)}machine {result.machine_busy:.0%} busy",
        flush=True,
    )
    for error, count in result.errors.most_common(3):
        print(f"    {count} x {error}")
    if result.timeline:
        print("\n".join([f"  {timeline_module.TITLE}:", *result.timeline]))


def _summary(results: list[RunResult], config: argparse.Namespace) -> list[str]:
    head = (
        f"{'database':10} {'server':6} {'w':>2} {'scenario':9} {'operation':26} {'n':>7} "
        f"{'ops/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
    )
    lines = ["", head, "-" * len(head)]
    for result in results:
        for row in result.rows:
            lines.append(
                f"{row.database:10} {row.server:6} {row.workers:>2} {row.scenario:9} "
                f"{row.operation:26} {row.count:>7} {row.per_second:>8,.0f} {row.p50_ms:>7.1f} "
                f"{row.p99_ms:>7.1f}"
            )
        errors = sum(result.errors.values())
        if errors:
            lines.append(f"{'':10} {'':6} {'':>2} {'':9} {'non-2xx answers':26} {errors:>7}")
    lines.append("")
    for result in results:
        lines.append(
            f"{result.label}: CPU client {result.client_cpu:.0%} of a core, server "
            f"{result.server_cpu:.0%} of a core, {_sweeper_cpu(result)}machine "
            f"{result.machine_busy:.0%} busy"
        )
    for result in results:
        if result.timeline:
            lines += ["", f"{result.label}: {timeline_module.TITLE}"]
            lines += result.timeline
    lines.append("")
    for database in config.databases:
        lines += _ratios(results, database, config.worker_counts)
    return lines + _trade_steps(results, config)


if __name__ == "__main__":
    sys.exit(main())
