"""Serve an ASGI app with uvicorn: one process, or several workers sharing one listening socket.

With several workers uvicorn binds the listener itself with protocol 0, so asyncio does not set
TCP_NODELAY on the connections it accepts and every keep-alive request after the first waits
about 40 ms for the client's delayed ACK (encode/uvicorn#3149; measured with `bench.load`: 16
clients stuck at ~360 requests/s whatever the server did). `NoDelayConfig` declares the same
socket as TCP, so accepted connections inherit IPPROTO_TCP and asyncio sets TCP_NODELAY.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess


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


def serve_http(app: str, host: str, port: int, workers: int, *, access_log: bool = True) -> None:
    """`uvicorn.run(app, …)` with TCP_NODELAY on every connection, whatever the worker count."""
    if workers <= 1:
        uvicorn.run(app, host=host, port=port, access_log=access_log)
        return
    config = NoDelayConfig(app, host=host, port=port, workers=workers, access_log=access_log)
    Multiprocess(config, sockets=[config.bind_socket()]).run()
