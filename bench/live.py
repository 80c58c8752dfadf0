"""A real server process over a seeded database, for the load script and the crash-safety test.

    python -m bench.live APP PORT WORKERS [--access-log]   # serve APP on 127.0.0.1:PORT


`seed` migrates a database and fills it through the services (no HTTP): the demo's reference
data (parties, entitlements, cash), a transfer instrument with funded holder accounts, and one
principal with a token per role the workload needs. `ServerProcess` starts the API with uvicorn
on a free loopback port in its own process group, waits until `/v1/health` answers, and stops it
gracefully or with SIGKILL (the whole group, so every uvicorn worker dies at once).
`SweeperProcess` runs `emissions-ledger sweep` beside a server started without its sweeper thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx2

from ledger.domain.access import Role
from ledger.domain.accounts import Side
from ledger.domain.amounts import Instrument, InstrumentKind
from ledger.domain.entries import PostingRequest
from ledger.domain.limits import ENTRIES_PER_BATCH_MAX
from ledger.domain.ports import AccountDraft
from ledger.domain.registry import PROVINCE
from ledger.entrypoints import demo
from ledger.persistence import migrate
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import journal, registry

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only: nothing here ever talks to another machine
TRANSFER_INSTRUMENT = Instrument(
    "XFER-2026", "Load-test SO2 right, vintage 2026", InstrumentKind.EMISSION_RIGHT, "t", 3
)
TRANSFER_SOURCE = "XFER:issuance"
FUNDING_UNITS = 10**12  # per holder: far more than any run moves out of it
# Enterprises in cities that may receive air-pollutant rights, with unpledged SO2 and NOx.
TRADERS = ("E01", "E02", "E04", "E06", "E07", "E08")


def holder(index: int) -> str:
    """A holder account of the owner `XFER`, which is no registered party: a regulator's
    transfer between two of them is one step (an enterprise's account would take four eyes and
    the trade rules; decision "An adjustment of a holder's account is a transfer, with four
    eyes"), so `POST /v1/entries` measures a single-step transfer."""
    return f"XFER:H{index:03d}"


@dataclass(frozen=True, slots=True)
class Seeded:
    """What a workload needs to know about the seeded database."""

    database_url: str
    holders: tuple[str, ...]
    tokens: dict[str, str] = field(default_factory=dict)  # principal id -> bearer token

    def headers(self, principal: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[principal]}"}


# principal id -> (role, party)
PRINCIPALS: dict[str, tuple[Role, str | None]] = {
    "load-regulator": (Role.REGULATOR, PROVINCE),
    "load-finance": (Role.FINANCE, None),
    **{f"load-{code.lower()}": (Role.ENTERPRISE, code) for code in TRADERS},
}


def enterprise_principal(code: str) -> str:
    return f"load-{code.lower()}"


def seed(database_url: str, holders: int = 16) -> Seeded:
    """Migrate and fill an empty database; the principals' tokens are in the result."""
    migrate.upgrade(database_url)
    store = Store(create_ledger_engine(database_url, sqlite_synchronous="NORMAL"))
    try:
        cast = demo.load_reference_data(store)
        regulator = cast.regulator
        registry.register_instrument(store, regulator, TRANSFER_INSTRUMENT)
        registry.open_account(
            store,
            regulator,
            AccountDraft(TRANSFER_SOURCE, PROVINCE, "load-test issuance", Side.DEBIT, False, None),
        )
        codes = tuple(holder(index) for index in range(holders))
        for code in codes:
            registry.open_account(
                store, regulator, AccountDraft(code, "XFER", code, Side.CREDIT, True, None)
            )
        amount = TRANSFER_INSTRUMENT.to_amount(FUNDING_UNITS)
        funding = [
            journal.PostEntry(
                entry_id=f"fund-{code}",
                entry_type="issuance",
                postings=(
                    PostingRequest(TRANSFER_SOURCE, TRANSFER_INSTRUMENT.code, Side.DEBIT, amount),
                    PostingRequest(code, TRANSFER_INSTRUMENT.code, Side.CREDIT, amount),
                ),
            )
            for code in codes
        ]
        for first in range(0, len(funding), ENTRIES_PER_BATCH_MAX):
            journal.post_batch(store, funding[first : first + ENTRIES_PER_BATCH_MAX])
        # Enrolled as every principal is: two administrators, each with half of the code.
        cast.enrol(store, [(key, role, party) for key, (role, party) in PRINCIPALS.items()])
        tokens = {key: secret for key, _, secret in cast.tokens if key in PRINCIPALS}
    finally:
        store.dispose()
    return Seeded(database_url, codes, tokens)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """`uvicorn api.main:app` (or `emissions-ledger serve`) as a child process group."""

    def __init__(  # noqa: PLR0917 - the knobs of one server
        self,
        database_url: str,
        log_path: Path,
        workers: int = 1,
        port: int | None = None,
        sweep_seconds: float = 1.0,
        access_log: bool = False,
        cli: bool = False,
        app: str = "api.main:app",
        sweeper_thread: bool = True,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.workers = workers
        self.port = port or free_port()
        self.sweep_seconds = sweep_seconds
        self.access_log = access_log
        self.cli = cli  # `emissions-ledger serve` (migrates first, logs every request)
        self.app = app
        self.sweeper_thread = sweeper_thread  # False: a `SweeperProcess` sweeps instead
        self.environment = environment or {}  # more variables for the server's processes
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        if self.cli:
            return [
                sys.executable, "-m", "ledger.entrypoints", "serve", "--host", HOST,
                "--port", str(self.port), "--workers", str(self.workers),
            ]  # fmt: skip
        command = [
            sys.executable, "-m", "bench.live", self.app, str(self.port), str(self.workers),
        ]  # fmt: skip
        if self.access_log:
            command.append("--access-log")
        return command

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until `/v1/health` answers 200; the seconds that took."""
        assert self._process is None, "already running"
        began = time.perf_counter()
        env = dict(os.environ)
        env.update(
            LEDGER_DATABASE_URL=self.database_url,
            LEDGER_EXPIRY_SWEEP_SECONDS=str(self.sweep_seconds),
            LEDGER_SWEEPER_THREAD=str(self.sweeper_thread).lower(),
            # A load test is a few principals sending as fast as they can: no per-principal
            # budget (the limiter's own cost is still paid on every request).
            LEDGER_REQUEST_LIMIT="1000000000/minute",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.environment)
        self._log = self.log_path.open("ab")
        self._log.write(f"--- start {self.starts + 1}: {' '.join(self.command())}\n".encode())
        self._log.flush()
        self._process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes every worker
        )
        self.starts += 1
        deadline = began + timeout
        with httpx2.Client(base_url=self.base_url, timeout=2.0) as client:
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"server exited with {self._process.returncode}: {self.tail()}"
                    )
                try:
                    if client.get("/v1/health").status_code == 200:
                        return time.perf_counter() - began
                except httpx2.TransportError:
                    pass
                if time.perf_counter() > deadline:
                    self.kill()
                    raise RuntimeError(f"server did not answer in {timeout} s: {self.tail()}")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown handler runs, nothing is flushed."""
        self._signal(signal.SIGKILL, wait=10.0)

    def stop(self) -> None:
        """SIGTERM (graceful shutdown), SIGKILL if that takes more than 15 s."""
        if self._process is None:
            return
        try:
            self._signal(signal.SIGTERM, wait=15.0)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal(self, number: int, wait: float) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # it died already
            os.killpg(process.pid, number)
        process.wait(timeout=wait)
        if number == signal.SIGKILL or process.returncode is not None:
            self._process = None
            if self._log is not None:
                self._log.close()
                self._log = None

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class SweeperProcess:
    """`emissions-ledger sweep` as a child process (its own session), for servers started with
    `sweeper_thread=False`."""

    def __init__(self, database_url: str, log_path: Path, sweep_seconds: float = 1.0) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.sweep_seconds = sweep_seconds
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        assert self._process is None, "already running"
        env = dict(os.environ)
        env.update(
            LEDGER_DATABASE_URL=self.database_url,
            LEDGER_EXPIRY_SWEEP_SECONDS=str(self.sweep_seconds),
            LEDGER_LOG_FORMAT="text",
            PYTHONUNBUFFERED="1",
        )
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "ledger.entrypoints", "sweep"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, SIGKILL if it has not exited within `timeout`; its exit status."""
        process, self._process = self._process, None
        if process is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def __enter__(self) -> SweeperProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve an app on the loopback like `emissions-ledger serve` (TCP_NODELAY with workers)."""
    import argparse  # noqa: PLC0415

    from ledger.entrypoints.server import serve_http  # noqa: PLC0415 - only the server needs uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.live")
    parser.add_argument("app")
    parser.add_argument("port", type=int)
    parser.add_argument("workers", type=int)
    parser.add_argument("--access-log", action="store_true")
    arguments = parser.parse_args(argv)
    serve_http(arguments.app, HOST, arguments.port, arguments.workers,
               access_log=arguments.access_log)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
