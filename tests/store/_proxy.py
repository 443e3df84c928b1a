"""A TCP proxy on loopback for the store fault tests: ``pass`` forwards, ``refuse`` stops
listening and drops every connection (connects are refused), ``hang`` keeps connections
open and accepts new ones but forwards nothing (a server that never answers)."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator

_POLL = 0.02


class Proxy:
    """Forwards 127.0.0.1:``port`` to ``target``; see the module docstring."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "pass"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._closed = False
        self._listener: socket.socket | None = None
        self.port = self._listen(0)

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return int(listener.getsockname()[1])

    def set(self, mode: str) -> None:
        """Switch to ``pass``, ``refuse`` or ``hang``."""
        assert mode in ("pass", "refuse", "hang")
        with self._lock:
            self.mode = mode
            if mode == "refuse":
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
                pairs, self._pairs = self._pairs, []
                for pair in pairs:
                    for sock in pair:
                        _drop(sock)
            elif self._listener is None:
                self._listen(self.port)

    def close(self) -> None:
        self.set("refuse")
        self._closed = True

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                _drop(client)
                continue
            with self._lock:
                if self.mode == "refuse":
                    _drop(client)
                    _drop(upstream)
                    continue
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        ends = {client: upstream, upstream: client}
        try:
            while True:
                if self.mode == "hang":
                    time.sleep(_POLL)
                    continue
                readable, _, _ = select.select(list(ends), [], [], _POLL)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    ends[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in ends:
                _drop(sock)


def _drop(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


@contextlib.contextmanager
def proxy_to(host: str, port: int) -> Iterator[Proxy]:
    """A proxy to ``host:port``, closed afterwards."""
    proxy = Proxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
