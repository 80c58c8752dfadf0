"""CPU per request of the full API, in process: no server, no client, no network.

    .venv/bin/python -m bench.api_cpu [--database sqlite|postgresql|both] [--requests 2000]
                                      [--rounds 3] [--concurrency 1] [--bare] [--profile FILE]

A freshly seeded database (`bench.live.seed`), the application of `api.app.create_app` with its
lifespan running, and `POST /v1/entries` transfers (those of `bench.load`) sent straight to the
ASGI callable. The figure is the process's CPU time (every thread: the handlers run in the thread
pool) per request, which the other programs on a shared machine barely change, beside the wall
time per request. `--bare` measures `bench.bare_baseline`'s endpoint the same way. `--profile`
samples the measured rounds with py-spy (threads holding the GIL only: CPU, not waits) into FILE,
in py-spy's raw format (one stack a line with its count).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from bench.config import DEFAULT_POSTGRES_URL
from bench.databases import fresh_database
from bench.live import TRANSFER_INSTRUMENT, Seeded, seed

ASGIApp = Any


def _transfer(rng: random.Random, seeded: Seeded, entry_id: str) -> bytes:
    source, destination = rng.sample(seeded.holders, 2)
    amount = str(TRANSFER_INSTRUMENT.to_amount(rng.randint(1, 1000)))
    code = TRANSFER_INSTRUMENT.code
    return json.dumps(
        {
            "entry_id": entry_id,
            "entry_type": "transfer",
            "postings": [
                {"account": source, "instrument": code, "side": "debit", "amount": amount},
                {"account": destination, "instrument": code, "side": "credit", "amount": amount},
            ],
        }
    ).encode()


def _bare(rng: random.Random, seeded: Seeded, entry_id: str) -> bytes:
    source, destination = rng.sample(seeded.holders, 2)
    body = {"entry_id": entry_id, "source": source, "destination": destination}
    return json.dumps({**body, "units": rng.randint(1, 1000)}).encode()


async def _call(app: ASGIApp, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _round(  # noqa: PLR0917 - one round's knobs
    app: ASGIApp, seeded: Seeded, bare: bool, requests: int, concurrency: int, label: str
) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per request."""
    rng = random.Random(label)
    if bare:
        path, headers, make = "/transfer", [], _bare
    else:
        bearer = f"Bearer {seeded.tokens['load-regulator']}".encode()
        path, headers, make = "/v1/entries", [(b"authorization", bearer)], _transfer
    headers = [*headers, (b"content-type", b"application/json"), (b"host", b"bench")]
    counter = iter(range(requests))

    async def user() -> None:
        for number in counter:
            status = await _call(app, path, headers, make(rng, seeded, f"{label}-{number}"))
            assert 200 <= status < 300, status

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    return (time.process_time() - cpu) / requests, (time.perf_counter() - wall) / requests


def _app(seeded: Seeded, bare: bool) -> tuple[ASGIApp, AbstractAsyncContextManager[Any]]:
    os.environ["LEDGER_DATABASE_URL"] = seeded.database_url
    if bare:
        from bench import bare_baseline  # noqa: PLC0415 - reads the environment on import

        return bare_baseline.app, bare_baseline.app.router.lifespan_context(bare_baseline.app)
    from api.app import create_app  # noqa: PLC0415
    from ledger.settings import Settings  # noqa: PLC0415

    settings = Settings.from_environment().model_copy(
        update={"request_limit": "1000000000/minute"}  # as bench.live: the limiter still runs
    )
    app = create_app(settings)
    return app, app.router.lifespan_context(app)


async def _measure(seeded: Seeded, config: argparse.Namespace, backend: str) -> None:
    app, lifespan = _app(seeded, config.bare)
    async with lifespan:
        warm = min(200, config.requests)
        await _round(app, seeded, config.bare, warm, config.concurrency, "warm")
        profiler = _profiler(config.profile, backend) if config.profile else None
        for number in range(config.rounds):
            cpu, wall = await _round(
                app, seeded, config.bare, config.requests, config.concurrency, f"r{number}"
            )
            print(
                f"{backend:10} {'bare' if config.bare else 'api':4} round {number}: "
                f"{cpu * 1000:6.3f} ms CPU, {wall * 1000:6.3f} ms wall per request"
            )
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
            profiler.wait(timeout=60)


def _profiler(path: Path, backend: str) -> subprocess.Popen[bytes]:
    output = path.with_name(f"{path.stem}-{backend}{path.suffix}")
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    command = [py_spy, "record", "--pid", str(os.getpid()), "--rate", "400", "--gil"]
    command += ["--format", "raw", "--output", str(output), "--nonblocking"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    return process


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api_cpu", description=__doc__)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--bare", action="store_true")
    parser.add_argument("--profile", type=Path, help="py-spy raw output (one file a database)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    config = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if config.database == "both" else (config.database,)
    for backend in backends:
        with fresh_database(backend, "apicpu", config.postgres_url) as database:
            seeded = seed(database.url, holders=200)
            asyncio.run(_measure(seeded, config, backend))


if __name__ == "__main__":
    main()
