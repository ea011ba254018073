"""A TCP proxy on 127.0.0.1 that cuts the connection after a given number of bytes.

For fault tests: coffeechat connects to the proxy, the proxy to the real server. After
``cut_after`` bytes have gone in the watched direction (client to server, or server to client),
both sockets are closed at once, as when a network drops mid-command. One connection at a
time is enough for the tests; each accepted connection is served by a thread of its own.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class CutProxy:
    """Where to connect, and what it saw."""

    port: int
    upstream: tuple[str, int]
    cut_after: int | None
    """Bytes in the watched direction before the cut; ``None``: never cut."""
    upward: bool = True
    """Watch client-to-server bytes (else server-to-client)."""
    sent_up: int = 0
    sent_down: int = 0
    cuts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)


def _pump(src: socket.socket, dst: socket.socket, proxy: CutProxy, up: bool,
          done: threading.Event) -> None:
    try:
        while not done.is_set():
            try:
                chunk = src.recv(4096)
            except OSError:
                break
            if not chunk:
                break
            with proxy._lock:
                watched = up == proxy.upward and proxy.cut_after is not None
                so_far = proxy.sent_up if up else proxy.sent_down
                if watched and proxy.cut_after is not None and (
                        so_far + len(chunk) > proxy.cut_after):
                    chunk = chunk[:max(0, proxy.cut_after - so_far)]
                    cut = True
                else:
                    cut = False
                if up:
                    proxy.sent_up += len(chunk)
                else:
                    proxy.sent_down += len(chunk)
            if chunk:
                try:
                    dst.sendall(chunk)
                except OSError:
                    break
            if cut:
                proxy.cuts += 1
                break
    finally:
        done.set()
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


@contextmanager
def cut_proxy(upstream: tuple[str, int], cut_after: int | None, *,
              upward: bool = True) -> Iterator[CutProxy]:
    """Listen on a free port of 127.0.0.1 and forward to ``upstream``, cutting after
    ``cut_after`` bytes in the watched direction."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    proxy = CutProxy(port=listener.getsockname()[1], upstream=upstream, cut_after=cut_after,
                     upward=upward)
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(upstream, timeout=30)
            done = threading.Event()
            for src, dst, up in ((client, server, True), (server, client, False)):
                thread = threading.Thread(target=_pump, args=(src, dst, proxy, up, done),
                                          daemon=True)
                thread.start()
                threads.append(thread)

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield proxy
    finally:
        stop.set()
        acceptor.join(timeout=5)
        listener.close()
        for thread in threads:
            thread.join(timeout=5)
