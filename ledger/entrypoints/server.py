"""`emissions-ledger serve`: uvicorn, one process or several workers sharing one listening socket.

With several workers uvicorn binds the listener itself with protocol 0, so asyncio does not set
TCP_NODELAY on the connections it accepts and every keep-alive request after the first waits
about 40 ms for the client's delayed ACK (encode/uvicorn#3149; measured with `bench.load`: 16
clients stuck at ~360 requests/s whatever the server did). `NoDelayConfig` declares the same
socket as TCP, so accepted connections inherit IPPROTO_TCP and asyncio sets TCP_NODELAY.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from ledger import logs, metrics
from ledger.entrypoints import demo
from ledger.persistence import migrate
from ledger.settings import Settings

APP = "api.main:app"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `serve` on the CLI's parser."""
    serve = commands.add_parser("serve", help="serve the HTTP API (migrates first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--no-access-log", action="store_true", help="do not log every request (load tests)"
    )
    serve.add_argument(
        "--demo-if-empty",
        action="store_true",
        help="load the synthetic demo registry first if the database holds no registry yet",
    )
    serve.set_defaults(run=run_serve)


def run_serve(settings: Settings, arguments: argparse.Namespace) -> int:
    """Load the demo if asked and the registry is empty, migrate, then serve until stopped."""
    if arguments.demo_if_empty:
        demo.run_demo(settings, arguments)
    migrate.upgrade(settings.database_url)
    with _metrics_shared_by(arguments.workers):
        serve_http(
            APP,
            arguments.host,
            arguments.port,
            arguments.workers,
            access_log=not arguments.no_access_log,
            log_config=logs.dictconfig(settings),
        )
    return 0


@contextmanager
def _metrics_shared_by(workers: int) -> Iterator[None]:
    """Several workers write their metrics to files that any of them reads for a scrape: in
    PROMETHEUS_MULTIPROC_DIR if the operator set it, else in a directory of their own."""
    given = os.environ.get(metrics.MULTIPROCESS_DIRECTORY)
    if workers <= 1 and not given:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="ledger-metrics-") as own:
        metrics.prepare_workers(Path(given or own))
        yield


class NoDelayConfig(uvicorn.Config):
    """uvicorn's configuration, with a multi-worker listener that says it is TCP."""

    def bind_socket(self) -> socket.socket:
        listener = super().bind_socket()
        if listener.family in (socket.AF_INET, socket.AF_INET6) and listener.proto == 0:
            # The same kernel socket, declared TCP: accepted sockets inherit the protocol.
            listener = socket.socket(
                listener.family, listener.type, socket.IPPROTO_TCP, listener.detach()
            )
            listener.set_inheritable(True)
        return listener


def serve_http(
    app: str,
    host: str,
    port: int,
    workers: int,
    *,
    access_log: bool = True,
    log_config: dict[str, Any] | None = None,
) -> None:
    """`uvicorn.run(app, …)` with TCP_NODELAY on every connection, whatever the worker count.
    `log_config` (a dictConfig document; uvicorn's own by default) configures every worker."""
    options: dict[str, Any] = {"host": host, "port": port, "access_log": access_log}
    if log_config is not None:
        options["log_config"] = log_config
    if workers <= 1:
        uvicorn.run(app, **options)
        return
    config = NoDelayConfig(app, workers=workers, **options)
    Multiprocess(config, sockets=[config.bind_socket()]).run()
